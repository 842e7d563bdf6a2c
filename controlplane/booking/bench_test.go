package booking_test

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

// BenchmarkBookings measures sustained bookings per second through the real HTTP API, router,
// middleware and PostgreSQL, with 1, 8 and 32 concurrent clients booking distinct (student, class)
// pairs spread over many classes (neighbouring requests differ in student and class), and reports
// p50/p99 latency. Run with e.g.
//
//	go test ./controlplane/booking -run '^$' -bench Bookings -benchtime 3000x
func BenchmarkBookings(b *testing.B) {
	for _, workers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("clients=%d", workers), func(b *testing.B) { benchBookings(b, workers) })
	}
}

func benchBookings(b *testing.B, workers int) {
	const students = 64
	env := cptest.Serve(b, cptest.Options{Config: func(c *controlplane.Config) {
		c.Database.MaxConns = 20 // the production default
		c.LogLevel = "error"
	}})
	admin, teacher := env.NewUser(b, "admin"), env.NewUser(b, "teacher")
	ss := make([]*cptest.User, students)
	for i := range ss {
		ss[i] = env.NewUser(b, "student")
		env.Do(b, "POST", "/api/v1/admin/credits/grants", admin.Token,
			map[string]any{"user_id": ss[i].ID, "credits": 100000, "reason": "benchmark"}).Want(b, http.StatusCreated)
	}
	classes := make([]string, (b.N+students-1)/students)
	for i := range classes {
		classes[i] = env.CreateClass(b, teacher, cptest.ClassSpec{Capacity: 1000, Price: 10, Title: fmt.Sprintf("Bench class %d", i)})["id"].(string)
	}
	lat := make([]time.Duration, b.N)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				// Pair i books class i mod C as student (i/C + i mod C) mod S: every pair is distinct,
				// and neighbouring requests come from different students for different classes.
				ci := i % len(classes)
				s, c := ss[(i/len(classes)+ci)%students], classes[ci]
				t0 := time.Now()
				r := env.DoRequest(b, cptest.Request{Method: "POST", Path: "/api/v1/classes/" + c + "/bookings", Token: s.Token,
					Headers: map[string]string{"Idempotency-Key": fmt.Sprintf("bench-%d", i)}})
				lat[i] = time.Since(t0)
				if r.Status != http.StatusCreated {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d bookings failed", n, b.N)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "bookings/s")
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.Logf("%d bookings by %d clients in %v: %.0f bookings/s, p50 %v, p99 %v, max %v", b.N, workers, elapsed.Round(time.Millisecond),
		rate, pct(0.50), pct(0.99), lat[len(lat)-1])
}
