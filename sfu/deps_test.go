package sfu_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The SFU may import only itself, signaling/ (protocol plumbing shared with the gateway) and
// pkg/ libraries: never the control plane, TURN, recorder or bench (DESIGN.md, STYLE.md).
// signaling/ and pkg/ids in turn import no service at all.
func TestImportsNoOtherService(t *testing.T) {
	const mod = "github.com/atrium-live/atrium/"
	check := func(pkgs []string, allowed ...string) {
		t.Helper()
		out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps: %v\n%s", err, out)
		}
	next:
		for _, p := range strings.Fields(string(out)) {
			rest, ok := strings.CutPrefix(p, mod)
			if !ok {
				continue
			}
			for _, a := range allowed {
				if strings.HasPrefix(rest, a) {
					continue next
				}
			}
			t.Errorf("%v depends on %s; allowed: %v", pkgs, p, allowed)
		}
	}
	check([]string{mod + "sfu", mod + "sfu/sfutest"}, "sfu", "signaling", "pkg/")
	check([]string{mod + "signaling/...", mod + "pkg/ids"}, "signaling", "pkg/")
}
