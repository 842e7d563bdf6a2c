package chart

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const chartDir = "../../deploy/chart"

// tool finds helm or kubeconform: in .tools/bin (where scripts/test-deps.sh installs the
// pinned versions), else on PATH. Missing tools fail the test: `make test` installs them.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := filepath.Abs(filepath.Join("..", "..", ".tools", "bin", name)); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: run scripts/test-deps.sh (it installs the pinned version into .tools/bin)", name)
	}
	return p
}

func run(t *testing.T, stdin []byte, name string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	// No cluster, no network: helm must not look for a kubeconfig or repositories.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "KUBECONFIG="+filepath.Join(home, "none"),
		"HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return append(out.Bytes(), errb.Bytes()...), err
	}
	return out.Bytes(), nil
}

// valueArgs turns value files and --set pairs into helm flags.
func valueArgs(files []string, sets []string) []string {
	var args []string
	for _, f := range files {
		args = append(args, "-f", filepath.Join("testdata", f))
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return args
}

// checkChart runs all three checks on one set of values and returns what failed, by check.
func checkChart(t *testing.T, files, sets []string) (lint, conform, policy string) {
	t.Helper()
	if out, err := run(t, nil, "helm", append([]string{"lint", "--strict", chartDir}, valueArgs(files, sets)...)...); err != nil {
		lint = string(out)
	}
	rendered, err := run(t, nil, "helm", append([]string{"template", "atrium", chartDir, "--namespace", "atrium"}, valueArgs(files, sets)...)...)
	if err != nil {
		return lint, "helm template failed: " + string(rendered), ""
	}
	schemas, _ := filepath.Abs(filepath.Join(chartDir, "schemas"))
	if out, err := run(t, rendered, "kubeconform", "-strict", "-summary", "-output", "text",
		"-schema-location", schemas+"/{{.ResourceKind}}{{.KindSuffix}}.json", "-"); err != nil {
		conform = string(out)
	}
	objs, err := ParseManifests(rendered)
	if err != nil {
		return lint, conform, err.Error()
	}
	if len(objs) < 5 {
		return lint, conform, "rendered only " + string(rune('0'+len(objs))) + " objects"
	}
	return lint, conform, strings.Join(Check(objs), "\n")
}

// TestChartPasses: the chart with every role on, with the SFU as a Deployment, and in the
// production shape (an existing Secret, an image digest) passes lint, kubeconform and policy.
func TestChartPasses(t *testing.T) {
	for name, files := range map[string][]string{
		"all roles":       {"full.yaml"},
		"sfu deployment":  {"full.yaml", "sfu-deployment.yaml"},
		"existing secret": {"existing-secret.yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			lint, conform, policy := checkChart(t, files, nil)
			if lint != "" {
				t.Errorf("helm lint --strict:\n%s", lint)
			}
			if conform != "" {
				t.Errorf("kubeconform:\n%s", conform)
			}
			if policy != "" && name != "existing secret" {
				t.Errorf("policy:\n%s", policy)
			}
			if name == "existing secret" && !strings.Contains(policy, "atrium-prod-secrets, which the chart does not render") {
				// The Secret lives outside the chart: the policy says so and nothing else.
				t.Errorf("policy with an existing Secret: got %q, want only the unrendered-Secret notes", policy)
			}
			if name == "existing secret" {
				for _, line := range strings.Split(policy, "\n") {
					if !strings.Contains(line, "which the chart does not render") {
						t.Errorf("policy with an existing Secret: unexpected %q", line)
					}
				}
			}
		})
	}
}

// TestChartChecksCatchBrokenValues proves each check can fail: one deliberately broken value
// per row, and the check that must catch it.
func TestChartChecksCatchBrokenValues(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   []string
		check string // lint, kubeconform, policy
		want  string
	}{
		{"typo'd values key", []string{"sfu.drainTimout=5"}, "lint", "drainTimout"},
		{"wrong env name (the old manifests' bug)", []string{"controlplane.env.ATRIUM_REDIS_URL=redis://r:6379"}, "policy", "ATRIUM_REDIS_URL is not a setting of `atrium controlplane`"},
		{"typo'd gateway cluster setting", []string{"gateway.env.ATRIUM_SIGNAL_CLUSTER_SEEDS_DNS=x"}, "policy", "ATRIUM_SIGNAL_CLUSTER_SEEDS_DNS is not a setting of `atrium signal`"},
		{"env of another role", []string{"sfu.env.ATRIUM_TURN_AUTH_SECRET=x"}, "policy", "ATRIUM_TURN_AUTH_SECRET is not a setting of `atrium sfu`"},
		{"typo'd config key", []string{"sfu.config.rtc.udp_adress=:7882"}, "policy", "sfu.yaml is not a valid sfu config"},
		{"typo'd manifest field", []string{"sfu.tolerations[0].key=a", "sfu.tolerations[0].effects=NoSchedule"}, "kubeconform", "effects"},
		{"drain longer than the grace period", []string{"sfu.env.ATRIUM_SFU_DRAIN_TIMEOUT=2h"}, "policy", "does not cover preStop"},
		{"latest image", []string{"image.tag=latest"}, "lint", "/image/tag"},
		{"secret file not in the Secret", []string{"controlplane.env.ATRIUM_SMTP_PASSWORD_FILE=/etc/atrium/secrets/smtp-password"}, "policy", "has no key \"smtp-password\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lint, conform, policy := checkChart(t, []string{"full.yaml"}, tc.set)
			got := map[string]string{"lint": lint, "kubeconform": conform, "policy": policy}[tc.check]
			if !strings.Contains(got, tc.want) {
				t.Errorf("%s did not catch %v: want %q in\n%s\n(lint: %q, kubeconform: %q, policy: %q)", tc.check, tc.set, tc.want, got, lint, conform, policy)
			}
		})
	}
}

// TestChartRelayPort: the SFU pods get the relay link (docs/relay.md) on their node's
// address: the port in UDP and TCP and the settings in the environment; sfu.relay.enabled
// false leaves it out (every room then stays on one node).
func TestChartRelayPort(t *testing.T) {
	render := func(sets ...string) string {
		out, err := run(t, nil, "helm", append([]string{"template", "atrium", chartDir, "--namespace", "atrium"}, valueArgs([]string{"full.yaml"}, sets)...)...)
		if err != nil {
			t.Fatalf("helm template: %v\n%s", err, out)
		}
		return string(out)
	}
	on := render("sfu.relay.port=7993", "sfu.relay.maxFanout=4")
	for _, want := range []string{
		"{name: relay-udp, containerPort: 7993, protocol: UDP}",
		"{name: relay-tcp, containerPort: 7993, protocol: TCP}",
		"name: ATRIUM_SFU_RELAY_ADDR\n              value: \":7993\"",
		"name: ATRIUM_SFU_RELAY_ADVERTISE_ADDR\n              value: \"$(HOST_IP):7993\"",
		"name: ATRIUM_SFU_RELAY_MAX_FANOUT\n              value: \"4\"",
	} {
		if !strings.Contains(on, want) {
			t.Errorf("rendered SFU lacks %q", want)
		}
	}
	if off := render("sfu.relay.enabled=false"); strings.Contains(off, "ATRIUM_SFU_RELAY") || strings.Contains(off, "relay-udp") {
		t.Error("sfu.relay.enabled=false still renders the relay link")
	}
}
