package turn_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The relay must stay independent of the other services (DESIGN.md, STYLE.md): it shares only
// pkg/ libraries with them, pkg/turncred above all. Test files may use sfu/sfutest.
func TestImportsNoOtherService(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/atrium-live/atrium/turn", "github.com/atrium-live/atrium/turn/turntest").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const mod = "github.com/atrium-live/atrium/"
	for _, p := range strings.Fields(string(out)) {
		rest, ok := strings.CutPrefix(p, mod)
		if !ok {
			continue
		}
		if !strings.HasPrefix(rest, "turn") && !strings.HasPrefix(rest, "pkg/") {
			t.Errorf("turn depends on %s: the relay may import only pkg/ libraries", p)
		}
	}
}
