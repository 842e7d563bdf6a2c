package main

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	pionturn "github.com/pion/turn/v5"
	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/pkg/tlsfile/tlsfiletest"
	"github.com/atrium-live/atrium/pkg/turncred"
	"github.com/atrium-live/atrium/sfu"
)

const rulesFile = "../../deploy/prometheus/atrium.rules.yaml"

// external are metrics the rules use that no Atrium role serves, and who provides them.
var external = map[string]string{
	"up": "Prometheus itself, per scrape target",
	"atrium_backup_last_success_timestamp_seconds": "scripts/backup-drill.sh's textfile (node_exporter textfile collector)",
}

var metricName = regexp.MustCompile(`\b(atrium_[a-z0-9_]+|up|process_[a-z0-9_]+|go_[a-z0-9_]+)\b`)

// quoted matches PromQL string literals (label values), dropped before looking for names.
var quoted = regexp.MustCompile(`"[^"]*"`)

const dashboardsGlob = "../../deploy/chart/dashboards/*.json"

// dashboardUIDs are the dashboards' stable uids: links and bookmarks use them, so one must not
// change or disappear silently.
var dashboardUIDs = []string{"atrium-cluster", "atrium-room-quality", "atrium-controlplane", "atrium-money"}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Title      string `json:"title"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // rows
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob(dashboardsGlob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards at %s (%v)", dashboardsGlob, err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, dup := out[d.UID]; dup {
			t.Errorf("%s: uid %q used twice", f, d.UID)
		}
		out[d.UID] = d
	}
	return out
}

func walkPanels(ps []panel, fn func(panel)) {
	for _, p := range ps {
		fn(p)
		walkPanels(p.Panels, fn)
	}
}

// dashboardMetrics returns the metric names each dashboard panel's queries use.
func dashboardMetrics(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	for uid, d := range loadDashboards(t) {
		walkPanels(d.Panels, func(p panel) {
			for _, tg := range p.Targets {
				for _, m := range metricName.FindAllString(quoted.ReplaceAllString(tg.Expr, `""`), -1) {
					used[m] = append(used[m], "dashboard "+uid+" panel "+strconv.Quote(p.Title))
				}
			}
		})
	}
	return used
}

// TestDashboards checks the dashboards' shape: the expected stable uids, a Prometheus
// datasource variable every panel uses, unique panel ids, and a query in every panel.
func TestDashboards(t *testing.T) {
	ds := loadDashboards(t)
	for _, uid := range dashboardUIDs {
		if _, ok := ds[uid]; !ok {
			t.Errorf("dashboard uid %q missing", uid)
		}
	}
	if len(ds) != len(dashboardUIDs) {
		t.Errorf("%d dashboards, want %d (add a new one's uid to dashboardUIDs)", len(ds), len(dashboardUIDs))
	}
	for uid, d := range ds {
		if d.Title == "" || len(d.Panels) == 0 {
			t.Errorf("%s: no title or no panels", uid)
		}
		hasVar := false
		for _, v := range d.Templating.List {
			hasVar = hasVar || (v.Name == "datasource" && v.Type == "datasource")
		}
		if !hasVar {
			t.Errorf("%s: no datasource variable", uid)
		}
		ids := map[int]bool{}
		walkPanels(d.Panels, func(p panel) {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d used twice", uid, p.ID)
			}
			ids[p.ID] = true
			if len(p.Panels) > 0 {
				return // a row
			}
			if p.Datasource.UID != "${datasource}" {
				t.Errorf("%s panel %q: datasource %q, want ${datasource}", uid, p.Title, p.Datasource.UID)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s panel %q: no query", uid, p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s panel %q: empty query", uid, p.Title)
				}
			}
		})
	}
}

// ruleMetrics returns the metric names each alert's expression uses.
func ruleMetrics(t *testing.T) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	used := map[string][]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			// Label values are quoted strings; drop them so "atrium_x" in a matcher is not a name.
			expr := quoted.ReplaceAllString(r.Expr, `""`)
			for _, m := range metricName.FindAllString(expr, -1) {
				used[m] = append(used[m], r.Alert)
			}
		}
	}
	if len(used) < 10 {
		t.Fatalf("found only %d metric names in %s", len(used), rulesFile)
	}
	return used
}

// scrapeToken is the metrics_token the roles are started with: /metrics on a public port
// answers only a bearer of it (issue 17, finding 12).
const scrapeToken = "alerts-test-metrics-token-0123456789"

func scrape(t *testing.T, client *http.Client, url string, into map[string]bool) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+scrapeToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line[:strings.IndexAny(line+" ", "{ ")]
		into[name] = true
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suf); ok {
				into[base] = true
			}
		}
	}
}

// TestAlertMetricsExist starts the SFU (with TLS), the TURN relay and the control plane
// in-process, makes each produce the series that appear only after an event (a signal error,
// a TURN 401 and quota refusal, an HTTP request), and checks that every metric an alert
// rule or dashboard query uses is in their real /metrics.
func TestAlertMetricsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("starts every role")
	}
	used := ruleMetrics(t)
	for m, panels := range dashboardMetrics(t) {
		used[m] = append(used[m], panels...)
	}
	served := map[string]bool{}

	// SFU, on TLS so the certificate expiry series exists.
	ca := tlsfiletest.NewCA(t)
	cert, key := ca.Issue(t, "sfu", time.Now().Add(time.Hour))
	sfuAddr := freeAddr(t, "tcp")
	t.Setenv("ATRIUM_SFU_HTTP_ADDR", sfuAddr)
	t.Setenv("ATRIUM_SFU_RTC_UDP_ADDR", "127.0.0.1:0")
	t.Setenv("ATRIUM_SFU_TLS_CERT_FILE", cert)
	t.Setenv("ATRIUM_SFU_TLS_KEY_FILE", key)
	t.Setenv("ATRIUM_SFU_METRICS_TOKEN", scrapeToken)
	client := ca.Client()
	err := runRoleCheck(t, runSFU, []string{"--dev", "--log-level", "warn"}, "https://"+sfuAddr+"/healthz", client, func() {
		ws := joinWSS(t, ca, sfuAddr, "alerts-room")
		defer ws.Close()
		empty, _ := proto.Marshal(&livekit.SignalRequest{}) // a message type the node does not know
		if err := ws.WriteMessage(websocket.BinaryMessage, empty); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool {
			m := map[string]bool{}
			scrape(t, client, "https://"+sfuAddr+"/metrics", m)
			return m["atrium_sfu_signal_errors_total"]
		})
		scrape(t, client, "https://"+sfuAddr+"/metrics", served)
	})
	if err != nil {
		t.Fatalf("sfu: %v", err)
	}

	// TURN: one 401 and one quota refusal.
	turnHTTP, udp := freeAddr(t, "tcp"), freeAddr(t, "udp")
	const secret = "Zr8qM2vK7xN4pT9wL1sB6hD3fJ0gYc5E"
	for k, v := range map[string]string{
		"ATRIUM_TURN_AUTH_SECRET": secret, "ATRIUM_TURN_HTTP": turnHTTP, "ATRIUM_TURN_LISTEN_UDP": udp,
		"ATRIUM_TURN_LISTEN_TCP": "", "ATRIUM_TURN_RELAY_ADDRESS": "127.0.0.1", "ATRIUM_TURN_RELAY_EXTERNAL_IP": "127.0.0.1",
		"ATRIUM_TURN_QUOTA_ALLOCATIONS_PER_USER": "1", "ATRIUM_TURN_DRAIN_TIMEOUT": "1s",
	} {
		t.Setenv(k, v)
	}
	err = runRoleCheck(t, runTURN, []string{"--config", sampleConfig("turn.yaml")}, "http://"+turnHTTP+"/healthz", http.DefaultClient, func() {
		user, pass := turncred.Generate(secret, "alice", time.Hour, time.Now())
		first := allocate(t, udp, user, pass)
		if first == nil {
			t.Fatal("first allocation failed")
		}
		defer first.Close()
		if c := allocate(t, udp, user, pass); c != nil {
			c.Close()
			t.Error("second allocation of a one-allocation user succeeded")
		}
		if c := allocate(t, udp, user, "wrong"); c != nil {
			c.Close()
			t.Error("allocation with a wrong password succeeded")
		}
		scrape(t, http.DefaultClient, "http://"+turnHTTP+"/metrics", served)
	})
	if err != nil {
		t.Fatalf("turn: %v", err)
	}

	// Control plane, after one API request.
	dbURL, prefix := freshDatabase(t)
	cpAddr := freeAddr(t, "tcp")
	for k, v := range map[string]string{
		"ATRIUM_HTTP_ADDR": cpAddr, "ATRIUM_DATABASE_URL": dbURL, "ATRIUM_DATABASE_AUTO_MIGRATE": "true",
		"ATRIUM_REDIS_KEY_PREFIX": prefix, "ATRIUM_JOBS_DISABLED": "true", "ATRIUM_HTTP_METRICS_TOKEN": scrapeToken,
	} {
		t.Setenv(k, v)
	}
	err = runRoleCheck(t, runControlPlane, []string{"--dev"}, "http://"+cpAddr+"/healthz", http.DefaultClient, func() {
		resp, err := http.Get("http://" + cpAddr + "/api/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		scrape(t, http.DefaultClient, "http://"+cpAddr+"/metrics", served)
	})
	if err != nil {
		t.Fatalf("controlplane: %v", err)
	}

	var missing []string
	for m, alerts := range used {
		if _, ok := external[m]; ok || served[m] {
			continue
		}
		missing = append(missing, m+" (used by "+strings.Join(alerts, ", ")+")")
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("alert rules or dashboards use metrics no role serves:\n  %s", strings.Join(missing, "\n  "))
	}
	// The external ones must really be written where the table says.
	drill, err := os.ReadFile(filepath.Join("..", "..", "scripts", "backup-drill.sh"))
	if err != nil || !strings.Contains(string(drill), "atrium_backup_last_success_timestamp_seconds") {
		t.Errorf("scripts/backup-drill.sh does not write atrium_backup_last_success_timestamp_seconds (%v)", err)
	}
}

// TestAlertRules runs promtool's rule checks and unit tests (deploy/prometheus/*.test.yaml).
func TestAlertRules(t *testing.T) {
	promtool := filepath.Join("..", "..", ".tools", "bin", "promtool")
	if _, err := os.Stat(promtool); err != nil {
		t.Fatalf("promtool not found at %s: run scripts/test-deps.sh", promtool)
	}
	for _, args := range [][]string{{"check", "rules", "atrium.rules.yaml"}, {"test", "rules", "atrium.rules.test.yaml"}} {
		abs, _ := filepath.Abs(promtool)
		cmd := exec.Command(abs, args...)
		cmd.Dir = filepath.Join("..", "..", "deploy", "prometheus")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// joinWSS joins room as a fresh identity over wss:// and returns the connection after the
// JoinResponse.
func joinWSS(t *testing.T, ca *tlsfiletest.CA, addr, room string) *websocket.Conn {
	t.Helper()
	g := &auth.VideoGrant{RoomJoin: true, Room: room}
	tok, err := access.NewToken{APIKey: sfu.DevAPIKey, APISecret: sfu.DevAPISecret, Room: room, Identity: "alice", TTL: time.Minute, Grant: g}.Mint()
	if err != nil {
		t.Fatal(err)
	}
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial("wss://"+addr+"/rtc?protocol=15&access_token="+tok, nil)
	if err != nil {
		t.Fatalf("dial wss: %v (response %v)", err, resp)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, raw, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read over wss: %v", err)
	}
	var msg livekit.SignalResponse
	if err := proto.Unmarshal(raw, &msg); err != nil || msg.GetJoin() == nil {
		t.Fatalf("first message over wss = %v (%v), want a JoinResponse", &msg, err)
	}
	return ws
}

// allocate asks the relay at addr for a UDP allocation; nil when it is refused.
func allocate(t *testing.T, addr, user, pass string) *pionturn.Client {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr,
		Username: user, Password: pass, Realm: "atrium", Conn: conn, RTO: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Allocate(); err != nil {
		c.Close()
		conn.Close()
		return nil
	}
	return c
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
