package sfu

import (
	"maps"
	"testing"
)

func TestPlanFeeds(t *testing.T) {
	cases := []struct {
		name   string
		fanout int
		prev   map[string]string
		nodes  []string
		want   map[string]string
		depth  int
	}{
		{"no bound: a star", 0, nil, []string{"b", "c", "d"},
			map[string]string{"b": "a", "c": "a", "d": "a"}, 1},
		{"fan-out 2 fills level by level, evenly", 2, nil, []string{"b", "c", "d", "e", "f", "g"},
			map[string]string{"b": "a", "c": "a", "d": "b", "e": "c", "f": "b", "g": "c"}, 2},
		{"fan-out 1 is a chain", 1, nil, []string{"b", "c", "d"},
			map[string]string{"b": "a", "c": "b", "d": "c"}, 3},
		{"the middle of a chain leaves: the next node takes its slot", 1,
			map[string]string{"b": "a", "c": "b", "d": "c"}, []string{"b", "d"},
			map[string]string{"b": "a", "d": "b"}, 2},
		{"a node under a departed feed goes to the shallowest free slot; the others stay", 2,
			map[string]string{"b": "a", "c": "a", "d": "b", "e": "c"}, []string{"c", "d", "e"},
			map[string]string{"c": "a", "d": "a", "e": "c"}, 2},
		{"a subtree moves whole", 1,
			map[string]string{"b": "a", "c": "b", "d": "c"}, []string{"c", "d"},
			map[string]string{"c": "a", "d": "c"}, 2},
		{"an orphan never goes under its own subtree", 1,
			map[string]string{"b": "a", "c": "b", "d": "c", "e": "d"}, []string{"c", "d", "e"},
			map[string]string{"c": "a", "d": "c", "e": "d"}, 3},
		{"a lowered fan-out re-places the latest children", 2,
			map[string]string{"b": "a", "c": "a", "d": "a"}, []string{"b", "c", "d"},
			map[string]string{"b": "a", "c": "a", "d": "b"}, 2},
		{"a cycle in the old plan is broken at its first node", 2,
			map[string]string{"b": "c", "c": "b"}, []string{"b", "c"},
			map[string]string{"b": "a", "c": "b"}, 2},
		{"a feed that is gone is replaced", 2,
			map[string]string{"b": "x"}, []string{"b"},
			map[string]string{"b": "a"}, 1},
		{"new nodes join an existing tree without moving it, under the emptier node", 2,
			map[string]string{"b": "a", "c": "b"}, []string{"b", "c", "d", "e"},
			map[string]string{"b": "a", "c": "b", "d": "a", "e": "d"}, 2},
		{"no relay nodes", 2, nil, nil, map[string]string{}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := planFeeds("a", c.fanout, c.prev, c.nodes)
			if !maps.Equal(got, c.want) {
				t.Errorf("planFeeds(fanout %d, prev %v, nodes %v) = %v, want %v", c.fanout, c.prev, c.nodes, got, c.want)
			}
			if d := treeDepth(got, "a"); d != c.depth {
				t.Errorf("depth %d, want %d", d, c.depth)
			}
			if c.fanout > 0 {
				kids := map[string]int{}
				for _, f := range got {
					kids[f]++
				}
				for f, k := range kids {
					if k > c.fanout {
						t.Errorf("%s feeds %d nodes, fan-out %d", f, k, c.fanout)
					}
				}
			}
		})
	}
}

// Whatever nodes come and go, the plan stays a tree under the fan-out.
func TestPlanFeedsStaysATree(t *testing.T) {
	all := []string{"b", "c", "d", "e", "f", "g", "h", "i", "j"}
	var plan map[string]string
	var nodes []string
	for step := 0; step < 200; step++ {
		n := all[(step*7)%len(all)]
		if i := indexOf(nodes, n); i >= 0 && step%3 != 0 {
			nodes = append(nodes[:i:i], nodes[i+1:]...)
		} else if i < 0 {
			nodes = append(nodes, n)
		}
		plan = planFeeds("a", 2, plan, nodes)
		kids := map[string]int{}
		for _, x := range nodes {
			f, ok := plan[x]
			if !ok {
				t.Fatalf("step %d: %s has no feed in %v", step, x, plan)
			}
			if reaches(plan, x, x) || depth(plan, "a", x) > len(nodes) {
				t.Fatalf("step %d: %s is not under the origin: %v", step, x, plan)
			}
			kids[f]++
		}
		for f, k := range kids {
			if k > 2 {
				t.Fatalf("step %d: %s feeds %d", step, f, k)
			}
		}
		if len(plan) != len(nodes) {
			t.Fatalf("step %d: plan %v for nodes %v", step, plan, nodes)
		}
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
