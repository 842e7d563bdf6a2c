package bench

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/cluster"
)

func TestClusterScenario(t *testing.T) {
	lecture, err := Preset("lecture", PresetParams{Subscribers: 4})
	if err != nil {
		t.Fatal(err)
	}
	meeting, err := Preset("meeting", PresetParams{Publishers: 3})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		in      Scenario
		rooms   int
		direct  bool
		groups  []string // name:count:direct
		rate    float64
		wantErr string
	}{
		{"lecture, no compare", lecture, 4, false, []string{"teacher:1:false", "students:4:false"}, 5, ""},
		{"lecture, compare", lecture, 4, true,
			[]string{"teacher:1:false", "students:4:false", "students-direct:4:true"}, 5, ""},
		{"meeting has no subscribe-only group", meeting, 2, true, nil, 0, "needs a subscribe-only group"},
		{"too many rooms for the join rate", lecture, 200, false, nil, 0, "takes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := clusterScenario(c.in, c.rooms, c.direct)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var groups []string
			for _, g := range got.Groups {
				groups = append(groups, fmt.Sprintf("%s:%d:%v", g.Name, g.Count, g.Direct))
			}
			if !reflect.DeepEqual(groups, c.groups) || got.JoinRate != c.rate {
				t.Errorf("groups %v rate %g, want %v rate %g", groups, got.JoinRate, c.groups, c.rate)
			}
			if len(c.in.Groups) != 2 || c.in.Groups[1].Direct { // the input is left alone
				t.Errorf("input scenario changed: %+v", c.in.Groups)
			}
		})
	}
}

func TestDirectGroupsOnlySubscribe(t *testing.T) {
	s, err := Preset("lecture", PresetParams{})
	if err != nil {
		t.Fatal(err)
	}
	s.Groups[0].Direct = true // the teacher
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "may only subscribe") {
		t.Fatalf("Validate = %v, want a refusal of a publishing direct group", err)
	}
}

func TestInterleaveDirect(t *testing.T) {
	tg, dg := &Group{Name: "s"}, &Group{Name: "d", Direct: true}
	mk := func(spec string) []*participant {
		var out []*participant
		for i, c := range spec {
			g := tg
			if c == 'd' {
				g = dg
			}
			out = append(out, &participant{identity: fmt.Sprintf("%c%d", c, i), group: g})
		}
		return out
	}
	str := func(ps []*participant) string {
		s := ""
		for _, p := range ps {
			s += p.identity[:1]
		}
		return s
	}
	for _, c := range []struct {
		in          string
		directFirst bool
		want        string
	}{
		{"ssss", false, "ssss"},
		{"ssss", true, "ssss"},
		{"ssdd", false, "sdsd"},
		{"ssdd", true, "dsds"},
		{"sssdd", false, "sdsds"},
		{"sssdd", true, "dsdss"},
		{"sdddd", false, "sdddd"},
		{"", false, ""},
	} {
		if got := str(interleaveDirect(mk(c.in), c.directFirst)); got != c.want {
			t.Errorf("interleaveDirect(%s, directFirst %v) = %s, want %s", c.in, c.directFirst, got, c.want)
		}
	}
}

func TestURLBases(t *testing.T) {
	for _, c := range []struct{ in, http, ws string }{
		{"ws://127.0.0.1:7880", "http://127.0.0.1:7880", "ws://127.0.0.1:7880"},
		{"wss://sfu.example.com/", "https://sfu.example.com", "wss://sfu.example.com"},
		{"http://127.0.0.1:7890", "http://127.0.0.1:7890", "ws://127.0.0.1:7890"},
		{"https://a.example/base/", "https://a.example/base", "wss://a.example/base"},
	} {
		h, err := httpBase(c.in)
		if err != nil || h != c.http {
			t.Errorf("httpBase(%s) = %q, %v; want %q", c.in, h, err, c.http)
		}
		w, err := wsBase(c.in)
		if err != nil || w != c.ws {
			t.Errorf("wsBase(%s) = %q, %v; want %q", c.in, w, err, c.ws)
		}
	}
	for _, bad := range []string{"ftp://x", "ws://", "::"} {
		if _, err := httpBase(bad); err == nil {
			t.Errorf("httpBase(%q) accepted", bad)
		}
	}
}

func TestNodeResults(t *testing.T) {
	t0 := time.Unix(1000, 0)
	meta := func(id string, rooms, parts int, cpu, pps float64) cluster.Meta {
		return cluster.Meta{NodeID: id, Role: cluster.RoleSFU, SignalURL: "http://127.0.0.1:1/" + id,
			State: cluster.StateServing, Load: cluster.Load{Rooms: rooms, Participants: parts, CPU: cpu, PacketsPerSec: pps}}
	}
	gw := cluster.Meta{NodeID: "gw", Role: cluster.RoleSignal, SignalURL: "http://127.0.0.1:2"}
	view := func(ms ...cluster.Meta) *ClusterView { return &ClusterView{Self: "gw", Members: ms} }
	samples := []viewSample{
		{t0, view(gw, meta("a", 9, 99, 0.9, 9))}, // before the window: ignored
		{t0.Add(2 * time.Second), view(gw, meta("a", 1, 3, 0.2, 100), meta("b", 2, 6, 0.4, 200))},
		{t0.Add(3 * time.Second), view(gw, meta("a", 2, 5, 0.4, 300), meta("b", 2, 6, 0.6, 200))},
		{t0.Add(9 * time.Second), view(gw, meta("a", 0, 0, 0, 0))}, // after: ignored
	}
	last := view(gw, meta("a", 0, 0, 0, 0), meta("b", 0, 0, 0, 0), meta("c", 0, 0, 0, 0))
	placed := map[string][2]int{"a": {2, 6}, "b": {2, 6}, "z": {1, 3}}
	got := nodeResults(last, samples, t0.Add(time.Second), t0.Add(5*time.Second), placed)
	var ids []string
	for _, n := range got {
		ids = append(ids, n.ID)
	}
	if want := []string{"a", "b", "c", "z"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("nodes %v, want %v (SFUs of the last view and every node rooms landed on)", ids, want)
	}
	a := got[0]
	if a.BenchRooms != 2 || a.BenchParticipants != 6 || a.Reported == nil {
		t.Fatalf("a = %+v", a)
	}
	wantA := NodeLoad{Samples: 2, RoomsMax: 2, ParticipantsMax: 5, CPUPercentMean: 30, CPUPercentMax: 40, PacketsPerSMean: 200}
	if l := *a.Reported; !approxLoad(l, wantA) {
		t.Errorf("a reported %+v, want %+v", l, wantA)
	}
	if got[2].Reported != nil || got[2].BenchRooms != 0 {
		t.Errorf("c (idle, no sample in the window) = %+v", got[2])
	}
	if got[3].BenchRooms != 1 || got[3].URL != "" {
		t.Errorf("z (landed on but unknown to the target) = %+v", got[3])
	}
}

func approxLoad(a, b NodeLoad) bool {
	near := func(x, y float64) bool { return x-y < 1e-9 && y-x < 1e-9 }
	return a.Samples == b.Samples && a.RoomsMax == b.RoomsMax && a.ParticipantsMax == b.ParticipantsMax &&
		a.TracksMax == b.TracksMax && near(a.CPUPercentMean, b.CPUPercentMean) &&
		near(a.CPUPercentMax, b.CPUPercentMax) && near(a.PacketsPerSMean, b.PacketsPerSMean)
}

func TestMajorityNodeAndDiff(t *testing.T) {
	if got := majorityNode(map[string]int{"a": 1, "b": 3}); got != "b" {
		t.Errorf("majorityNode = %s, want b", got)
	}
	if got := majorityNode(map[string]int{"b": 2, "a": 2}); got != "a" {
		t.Errorf("majorityNode on a tie = %s, want a (stable)", got)
	}
	if got := majorityNode(nil); got != "" {
		t.Errorf("majorityNode(nil) = %q", got)
	}
	d := diffPercentiles(Percentiles{N: 10, P50: 5, P95: 9, P99: 12}, Percentiles{N: 8, P50: 3, P95: 10, P99: 11})
	if d != (Percentiles{N: 8, P50: 2, P95: -1, P99: 1}) {
		t.Errorf("diff = %+v", d)
	}
	if d := diffPercentiles(Percentiles{N: 3, P50: 1}, Percentiles{}); d != (Percentiles{}) {
		t.Errorf("diff with an empty side = %+v, want zero", d)
	}
}

func TestWarningKind(t *testing.T) {
	a := "tester starved: its threads waited 68% of the time (load average 14.1 on 2 CPUs)"
	b := "tester starved: its threads waited 61% of the time (load average 9.7 on 2 CPUs)"
	if warningKind(a) != warningKind(b) {
		t.Errorf("same warning with other figures is another kind")
	}
	if warningKind(a) == warningKind("no steady window after the joins") {
		t.Errorf("different warnings are one kind")
	}
}

func TestOneHost(t *testing.T) {
	n := func(u string) NodeResult { return NodeResult{URL: u} }
	if !oneHost([]NodeResult{n("http://127.0.0.1:7890"), n("http://127.0.0.1:7891")}) {
		t.Error("two nodes on 127.0.0.1: want one host")
	}
	if oneHost([]NodeResult{n("http://10.0.0.1:7880"), n("http://10.0.0.2:7880")}) {
		t.Error("two hosts reported as one")
	}
	if oneHost([]NodeResult{n("http://10.0.0.1:7880")}) {
		t.Error("a single node is not 'several nodes on one host'")
	}
}
