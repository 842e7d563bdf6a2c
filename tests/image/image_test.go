package image

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

const dockerfile = "../../deploy/Dockerfile"

func want(t *testing.T) Want {
	t.Helper()
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+(\.\d+)?)$`).FindStringSubmatch(string(mod))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return Want{GoVersion: m[1], Entrypoint: "/usr/local/bin/atrium", Packages: []string{"ca-certificates", "tzdata", "ffmpeg"}}
}

// TestDockerfile checks deploy/Dockerfile offline (no daemon needed).
func TestDockerfile(t *testing.T) {
	src, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	if bad := Check(string(src), want(t)); len(bad) > 0 {
		t.Errorf("deploy/Dockerfile:\n  %s", strings.Join(bad, "\n  "))
	}
}

// TestCheckCatches proves each check can fail: every broken Dockerfile is caught for its
// reason, and the good one passes.
func TestCheckCatches(t *testing.T) {
	w := Want{GoVersion: "1.26.8", Entrypoint: "/usr/local/bin/atrium", Packages: []string{"ca-certificates", "tzdata", "ffmpeg"}}
	good := `FROM golang:1.26-bookworm AS build
RUN go build -o /out/atrium ./cmd/atrium
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates ffmpeg tzdata
COPY --from=build /out/atrium /usr/local/bin/atrium
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/atrium"]
`
	if bad := Check(good, w); len(bad) > 0 {
		t.Fatalf("Check(good) = %v, want none", bad)
	}
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"latest base", "debian:bookworm-slim", "debian:latest", ":latest"},
		{"untagged base", "debian:bookworm-slim", "debian", "no tag"},
		{"old Go", "golang:1.26-bookworm", "golang:1.25-bookworm", "go.mod says go 1.26.8"},
		{"root user", "USER 65532:65532", "USER root", "runs as root"},
		{"uid 0", "USER 65532:65532", "USER 0:0", "runs as root"},
		{"no user", "USER 65532:65532\n", "", "no USER"},
		{"shell entrypoint", `ENTRYPOINT ["/usr/local/bin/atrium"]`, "ENTRYPOINT /usr/local/bin/atrium", "shell form"},
		{"other entrypoint", `ENTRYPOINT ["/usr/local/bin/atrium"]`, `ENTRYPOINT ["/bin/sh"]`, "runs"},
		{"no ffmpeg", "ca-certificates ffmpeg tzdata", "ca-certificates tzdata", "ffmpeg not installed"},
		{"no CA roots", "ca-certificates ffmpeg tzdata", "ffmpeg tzdata", "ca-certificates not installed"},
		{"no binary", "COPY --from=build /out/atrium /usr/local/bin/atrium\n", "", "nothing is copied"},
	} {
		src := strings.Replace(good, tc.from, tc.to, 1)
		bad := Check(src, w)
		if !strings.Contains(strings.Join(bad, "\n"), tc.want) {
			t.Errorf("%s: Check = %v, want a violation mentioning %q", tc.name, bad, tc.want)
		}
	}
}

// TestImageBuild builds the image and inspects its user and entrypoint where a Docker daemon
// answers; elsewhere it skips, saying so.
func TestImageBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the image")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker client on this machine: the image build is checked by CI (.github/workflows/ci.yml); TestDockerfile checked the Dockerfile offline")
	}
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Skipf("docker info fails (no daemon here): the image build is checked by CI; TestDockerfile checked the Dockerfile offline\n%s", out)
	}
	const tag = "atrium:image-test"
	build := exec.Command("docker", "build", "-f", "deploy/Dockerfile", "-t", tag, ".")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}}", tag).Output()
	if err != nil {
		t.Fatalf("docker image inspect: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != `65532:65532 ["/usr/local/bin/atrium"]` {
		t.Errorf("image user and entrypoint = %s, want 65532:65532 [\"/usr/local/bin/atrium\"]", got)
	}
	if out, err := exec.Command("docker", "run", "--rm", tag, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "atrium ") {
		t.Errorf("docker run %s version = %q, %v", tag, out, err)
	}
}
