package controlplane_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The control plane reaches the media plane only through tokens and webhooks: no package
// under controlplane/ may import a media service.
func TestNoMediaServiceImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/atrium-live/atrium/controlplane/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"/sfu", "/turn", "/signaling", "/recorder", "/bench"} {
			if strings.HasPrefix(pkg, "github.com/atrium-live/atrium"+banned) {
				t.Errorf("controlplane depends on %s", pkg)
			}
		}
	}
}
