package controlplane_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

var benchWords = strings.Fields(`algebra geometry calculus statistics probability physics chemistry biology
	history geography literature poetry grammar spanish french german japanese chinese piano guitar violin
	singing drawing painting sculpture photography cooking baking nutrition yoga pilates running chess
	programming python golang javascript databases networks security cryptography machine learning
	robotics electronics astronomy economics finance accounting marketing negotiation leadership writing
	storytelling philosophy ethics logic debate psychology sociology anthropology architecture design
	typography animation filmmaking acting dance meditation gardening carpentry welding sailing climbing`)

// BenchmarkDiscovery measures GET /classes over 100,000 scheduled classes through the real
// router and PostgreSQL, with a mix of full-text, filtered, sorted and second-page queries,
// and reports p50/p99 latency. Run it with:
//
//	go test ./controlplane -run '^$' -bench Discovery -benchtime 2000x
//
// ATRIUM_BENCH_CLASSES changes the number of classes.
func BenchmarkDiscovery(b *testing.B) {
	n := 100000
	if v := os.Getenv("ATRIUM_BENCH_CLASSES"); v != "" {
		fmt.Sscan(v, &n)
	}
	env := cptest.Serve(b)
	benchSeed.Do(func() { benchSeed.teachers = seedBench(b, env, n) })
	teachers := benchSeed.teachers
	now := env.Clock.Now()

	// A second-page cursor for the cursor query.
	var first struct {
		NextCursor string `json:"next_cursor"`
	}
	env.Do(b, "GET", "/api/v1/classes?sort=price&limit=20", "", nil).Want(b, 200).JSON(b, &first)
	queries := []string{
		"q=" + url.QueryEscape("piano"),
		"q=" + url.QueryEscape("machine learning"),
		"topic=chess",
		"tier=vip&min_price=100&max_price=400&sort=price",
		"sort=popularity",
		"sort=start&from=" + url.QueryEscape(now.Add(30*24*time.Hour).UTC().Format(time.RFC3339)),
		"q=physics&sort=price",
		"teacher=" + teachers[3],
		"sort=price&limit=20&cursor=" + url.QueryEscape(first.NextCursor),
		"",
	}
	lat := make([]time.Duration, 0, b.N)
	perQuery := make([][]time.Duration, len(queries))
	b.ResetTimer()
	for i := range b.N {
		q := queries[i%len(queries)]
		t0 := time.Now()
		env.Do(b, "GET", "/api/v1/classes?"+q, "", nil).Want(b, 200)
		d := time.Since(t0)
		lat = append(lat, d)
		perQuery[i%len(queries)] = append(perQuery[i%len(queries)], d)
	}
	b.StopTimer()
	pct := func(l []time.Duration, q float64) time.Duration {
		slices.Sort(l)
		return l[min(len(l)-1, int(q*float64(len(l))))]
	}
	p := func(q float64) time.Duration { return pct(lat, q) }
	if b.N >= 100 {
		for i, l := range perQuery {
			fmt.Printf("  %-60.60s p50 %-8s p99 %s\n", queries[i], pct(l, 0.5).Round(10*time.Microsecond), pct(l, 0.99).Round(10*time.Microsecond))
		}
	}
	b.ReportMetric(float64(p(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p(0.99).Microseconds())/1000, "p99-ms")
	if b.N >= 100 {
		fmt.Printf("GET /api/v1/classes over %d classes, %d requests: p50 %s, p99 %s, max %s\n", n, len(lat),
			p(0.50).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
	}
}

// BenchmarkDiscoveryParallel is BenchmarkDiscovery's query mix from 8 concurrent clients;
// it reports throughput and p99 under load.
func BenchmarkDiscoveryParallel(b *testing.B) {
	n := 100000
	if v := os.Getenv("ATRIUM_BENCH_CLASSES"); v != "" {
		fmt.Sscan(v, &n)
	}
	env := cptest.Serve(b)
	benchSeed.Do(func() { benchSeed.teachers = seedBench(b, env, n) })
	queries := []string{"q=piano", "q=machine+learning", "topic=chess", "tier=vip&min_price=100&max_price=400&sort=price",
		"sort=popularity", "q=physics&sort=price", "teacher=" + benchSeed.teachers[3], ""}
	var (
		mu  sync.Mutex
		lat []time.Duration
		idx atomic.Int64
	)
	b.SetParallelism(4) // 4 × GOMAXPROCS(2) = 8 clients
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			q := queries[int(idx.Add(1))%len(queries)]
			t0 := time.Now()
			env.Do(b, "GET", "/api/v1/classes?"+q, "", nil).Want(b, 200)
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	elapsed := time.Since(start)
	slices.Sort(lat)
	p99 := lat[min(len(lat)-1, int(0.99*float64(len(lat))))]
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	if b.N >= 100 {
		fmt.Printf("GET /api/v1/classes over %d classes, 8 clients, %d requests: %.0f req/s, p50 %s, p99 %s\n", n, len(lat),
			float64(len(lat))/elapsed.Seconds(), lat[len(lat)/2].Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
	}
}

// benchSeed seeds once per test binary: the benchmark function runs more than once (b.N=1
// first), each time with a new server on the same database.
var benchSeed struct {
	sync.Once
	teachers []string
}

func seedBench(b *testing.B, env *cptest.Env, n int) []string {
	ctx := context.Background()
	var teachers []string
	for range 50 {
		teachers = append(teachers, env.NewUser(b, "teacher").ID)
	}
	start := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	now := env.Clock.Now()
	tiers := []string{"basic", "premium", "vip"}
	rows := make([][]any, 0, n)
	for i := range n {
		w := func() string { return benchWords[rng.IntN(len(benchWords))] }
		tier := tiers[rng.IntN(3)]
		price := map[string]int{"basic": 1 + rng.IntN(50), "premium": 10 + rng.IntN(191), "vip": 50 + rng.IntN(951)}[tier]
		capacity := 5 + rng.IntN(100)
		rows = append(rows, []any{teachers[i%len(teachers)], "Learn " + w() + " and " + w(), w(),
			"A class about " + w() + ", " + w() + " and " + w() + ".", now.Add(time.Duration(rng.IntN(90*24*60)) * time.Minute),
			60, "UTC", capacity, rng.IntN(capacity + 1), tier, price})
	}
	_, err := env.Server.Pool.CopyFrom(ctx, pgx.Identifier{"classes"}, []string{"teacher_id", "title", "topic", "description",
		"starts_at", "duration_minutes", "time_zone", "capacity", "seats_taken", "tier", "price_credits"}, pgx.CopyFromRows(rows))
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	if _, err := env.Server.Pool.Exec(ctx, "ANALYZE classes"); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d classes in %s", n, time.Since(start).Round(time.Millisecond))

	return teachers
}
