package deps_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/atrium-live/atrium"

// rule says which module packages the packages under from may depend on (directly or not).
// Prefixes are module-relative; a package may always depend on its own subtree.
type rule struct {
	from    string
	allowed []string
	why     string
}

// rules is the whole module's dependency direction. A package under no rule fails the
// test, so a new top-level part must say where it stands.
var rules = []rule{
	{"pkg/", []string{"pkg/"}, "pkg holds leaf libraries and imports no service"},
	{"sfu", []string{"pkg/"}, "a media node shares code with the gateway only through pkg"},
	{"signaling", []string{"pkg/"}, "the gateway never imports the SFU (nor the reverse)"},
	{"turn", []string{"pkg/"}, "TURN is a service of its own"},
	{"recorder", []string{"pkg/"}, "the recorder is a protocol client: no sfu package"},
	{"bench", []string{"pkg/"}, "the load tester is a protocol client: no sfu package"},
	{"controlplane", []string{"pkg/"}, "the control plane reaches the media plane only over its public APIs"},
	{"web", []string{"pkg/"}, "assets"},
	{"tests/", []string{"pkg/", "sfu", "signaling", "turn", "recorder", "bench", "controlplane", "cmd/"}, "cross-part tests may use everything"},
	{"cmd/", []string{"pkg/", "sfu", "signaling", "turn", "recorder", "bench", "controlplane"}, "cmd wires every role"},
}

type listed struct {
	ImportPath string
	Deps       []string
}

// TestDependencyDirection checks every module package against rules, with go list -deps
// semantics (what a package imports, directly or through others).
func TestDependencyDirection(t *testing.T) {
	cmd := exec.Command("go", "list", "-test=false", "-json=ImportPath,Deps", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		r, ok := ruleFor(rel)
		if !ok {
			t.Errorf("%s is under no dependency rule: add it to rules", p.ImportPath)
			continue
		}
		checked++
		for _, d := range p.Deps {
			drel, ok := strings.CutPrefix(d, module+"/")
			if !ok {
				continue
			}
			if !allowed(r, rel, drel) {
				t.Errorf("%s imports %s: %s (allowed: own subtree and %v)", rel, drel, r.why, r.allowed)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d packages; go list output looks wrong", checked)
	}
}

func ruleFor(rel string) (rule, bool) {
	for _, r := range rules {
		if under(rel, r.from) {
			return r, true
		}
	}
	return rule{}, false
}

// under reports whether rel is prefix itself or inside it ("sfu" covers "sfu/internal/x",
// not "sfutest"; "pkg/" covers every package below pkg).
func under(rel, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(rel, prefix)
	}
	return rel == prefix || strings.HasPrefix(rel, prefix+"/")
}

func allowed(r rule, rel, dep string) bool {
	top := rel
	if i := strings.Index(rel, "/"); i >= 0 && !strings.HasSuffix(r.from, "/") {
		top = rel[:i]
	}
	if under(dep, strings.TrimSuffix(r.from, "/")) || under(dep, top) {
		if r.from == "pkg/" {
			return strings.HasPrefix(dep, "pkg/")
		}
		return true
	}
	for _, a := range r.allowed {
		if under(dep, a) {
			return true
		}
	}
	return false
}

// TestRulesCatchAViolation proves the checker is not vacuous: the SFU importing the control
// plane, or bench importing the SFU, is refused.
func TestRulesCatchAViolation(t *testing.T) {
	cases := []struct {
		pkg, dep string
		want     bool
	}{
		{"sfu", "controlplane/ledger", false},
		{"sfu", "signaling", false},
		{"signaling", "sfu/internal/media", false},
		{"bench", "sfu", false},
		{"pkg/cluster", "sfu", false},
		{"pkg/cluster", "pkg/ids", true},
		{"sfu/internal/media", "sfu/internal/buffer", true},
		{"sfu", "pkg/access", true},
		{"cmd/atrium", "sfu", true},
		{"controlplane/api", "controlplane/store", true},
		{"controlplane/api", "sfu", false},
		{"recorder", "sfu/internal/media", false},
	}
	for _, c := range cases {
		r, ok := ruleFor(c.pkg)
		if !ok {
			t.Fatalf("no rule for %s", c.pkg)
		}
		if got := allowed(r, c.pkg, c.dep); got != c.want {
			t.Errorf("allowed(%s -> %s) = %v, want %v", c.pkg, c.dep, got, c.want)
		}
	}
}
