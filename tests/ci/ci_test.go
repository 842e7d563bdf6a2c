// Package ci checks the repository host's workflow (.github/workflows/ci.yml): actionlint
// accepts it and rejects a broken copy (so `make lint` can fail), and it runs what .ci/run
// runs plus the chart checks and the image build.
package ci

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const workflow = "../../.github/workflows/ci.yml"

func actionlint(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../.tools/bin/actionlint")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("actionlint not installed at %s: run scripts/test-deps.sh", p)
	}
	return p
}

func TestWorkflow(t *testing.T) {
	bin := actionlint(t)
	if out, err := exec.Command(bin, workflow).CombinedOutput(); err != nil {
		t.Fatalf("actionlint %s: %v\n%s", workflow, err, out)
	}
	raw, err := os.ReadFile(workflow)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"run: .ci/run", "./tests/chart/", "-run TestImageBuild"} {
		if !strings.Contains(string(raw), step) {
			t.Errorf("%s does not run %q", workflow, step)
		}
	}
	// A broken copy (a typo'd key, an unknown expression context) must fail actionlint.
	for name, broken := range map[string]string{
		"typo'd key":      strings.Replace(string(raw), "runs-on:", "runs_on:", 1),
		"unknown context": strings.Replace(string(raw), "${{ github.ref }}", "${{ gihub.ref }}", 1),
	} {
		p := filepath.Join(t.TempDir(), "ci.yml")
		if err := os.WriteFile(p, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, p).CombinedOutput(); err == nil {
			t.Errorf("actionlint accepted the workflow with a %s:\n%s", name, out)
		}
	}
}
