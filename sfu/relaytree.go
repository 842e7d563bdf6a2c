package sfu

// The media tree of a room spanning nodes (docs/relay.md, "Trees"). Room state always goes
// through the origin (a star: control messages are small), but media may take more than
// one hop: with relay.max_fanout = k, the origin feeds at most k relay nodes and each relay
// node at most k more, so a lecture of many nodes costs no node more than k copies of each
// track. The origin decides the shape (planFeeds) and tells each relay node which node to
// pull its media from (its feed).

// planFeeds decides, for every relay node of a room, the node it pulls media from: the
// origin or another relay node. nodes are the room's relay nodes in the order they
// attached; prev is the current plan (nil at first).
//
// Assignments in prev are kept while the feed is still there (the origin or a node in
// nodes) and under the fan-out: a tree only changes where it must, since every change
// makes the moved node's tracks restart at a keyframe. Nodes without a valid feed
// (new, or whose feed left) are placed in order, each under the shallowest node with a
// free slot (fewer than fanout children), ties to the node with fewer children, then to
// the earlier one (the origin first); never under itself or its own subtree (its children
// keep it as their feed, so a subtree moves whole). fanout <= 0 means no bound: every
// relay node is fed by the origin.
func planFeeds(origin string, fanout int, prev map[string]string, nodes []string) map[string]string {
	plan := make(map[string]string, len(nodes))
	if fanout <= 0 {
		for _, n := range nodes {
			plan[n] = origin
		}
		return plan
	}
	present := map[string]bool{origin: true}
	rank := map[string]int{origin: -1}
	for i, n := range nodes {
		present[n] = true
		rank[n] = i
	}
	children := map[string]int{}
	for _, n := range nodes {
		if f, ok := prev[n]; ok && present[f] && f != n {
			plan[n] = f
		}
	}
	// A kept assignment could make a cycle only if prev had one; break any by re-placing.
	for _, n := range nodes {
		if _, ok := plan[n]; ok && reaches(plan, n, n) {
			delete(plan, n)
		}
	}
	// Over-full feeds (fanout lowered) give up their latest children.
	for _, n := range nodes {
		if f, ok := plan[n]; ok {
			if children[f] >= fanout {
				delete(plan, n)
				continue
			}
			children[f]++
		}
	}
	for _, n := range nodes {
		if _, ok := plan[n]; ok {
			continue
		}
		best, bestDepth := "", 0
		for _, c := range append([]string{origin}, nodes...) {
			if c == n || children[c] >= fanout {
				continue
			}
			if c != origin {
				if _, placed := plan[c]; !placed || reaches(plan, c, n) {
					continue // unplaced yet, or inside n's own subtree
				}
			}
			d := depth(plan, origin, c)
			if d > len(plan) {
				continue // in a subtree not yet placed again
			}
			if best == "" || d < bestDepth || (d == bestDepth && (children[c] < children[best] ||
				(children[c] == children[best] && rank[c] < rank[best]))) {
				best, bestDepth = c, d
			}
		}
		if best == "" {
			best = origin // every slot taken (cannot happen with fanout >= 1): overfill the origin
		}
		plan[n] = best
		children[best]++
	}
	return plan
}

// reaches reports whether following feeds up from n passes through target (n's feed
// chain, not n itself unless there is a cycle).
func reaches(plan map[string]string, n, target string) bool {
	seen := map[string]bool{}
	for cur, ok := plan[n]; ok; cur, ok = plan[cur] {
		if cur == target {
			return true
		}
		if seen[cur] {
			return false
		}
		seen[cur] = true
	}
	return false
}

// depth is the number of hops from the origin to n (0 for the origin itself).
func depth(plan map[string]string, origin, n string) int {
	d := 0
	for cur := n; cur != origin && d <= len(plan); d++ {
		next, ok := plan[cur]
		if !ok {
			return len(plan) + 1
		}
		cur = next
	}
	return d
}

// treeDepth is the deepest relay node's hop count (0 with no relay nodes).
func treeDepth(plan map[string]string, origin string) int {
	d := 0
	for n := range plan {
		d = max(d, depth(plan, origin, n))
	}
	return d
}
