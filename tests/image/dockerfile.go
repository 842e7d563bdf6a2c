package image

import (
	"fmt"
	"regexp"
	"strings"
)

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, USER...
	Args string
	Line int
}

// parse splits a Dockerfile into instructions (comments dropped, "\" continuations joined).
func parse(src string) []instruction {
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(src, "\n") {
		line := strings.TrimSpace(raw)
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue // a comment inside a continued instruction
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if body, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start})
		cur.Reset()
	}
	return out
}

// Want is what the image must satisfy.
type Want struct {
	GoVersion  string   // go.mod's go directive, e.g. "1.26.8": the build image must be that minor
	Entrypoint string   // the binary the exec-form ENTRYPOINT must run
	Packages   []string // Debian packages the final stage must install
}

var (
	pinnedImage = regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?(@sha256:[a-f0-9]{64})?$`)
	goImage     = regexp.MustCompile(`^golang:(\d+\.\d+)`)
)

// Check returns every violation of w in the Dockerfile src; none means it passes.
func Check(src string, w Want) []string {
	var bad []string
	fail := func(in instruction, format string, a ...any) {
		bad = append(bad, fmt.Sprintf("line %d (%s): %s", in.Line, in.Cmd, fmt.Sprintf(format, a...)))
	}
	ins := parse(src)
	stages := map[string]bool{}
	last := -1 // index of the final FROM
	for i, in := range ins {
		if in.Cmd != "FROM" {
			continue
		}
		last = i
		f := strings.Fields(in.Args)
		img := f[0]
		if len(f) >= 3 && strings.EqualFold(f[1], "AS") {
			stages[f[2]] = true
		}
		if stages[img] {
			continue // FROM an earlier stage
		}
		switch {
		case !pinnedImage.MatchString(img):
			fail(in, "base image %q is not a plain reference", img)
		case !strings.Contains(img, ":") && !strings.Contains(img, "@"):
			fail(in, "base image %q has no tag: it means :latest", img)
		case strings.HasSuffix(img, ":latest"):
			fail(in, "base image %q uses :latest", img)
		}
		if m := goImage.FindStringSubmatch(img); m != nil && w.GoVersion != "" && !strings.HasPrefix(w.GoVersion+".", m[1]+".") {
			fail(in, "build image Go %s, but go.mod says go %s", m[1], w.GoVersion)
		}
	}
	if last < 0 {
		return append(bad, "no FROM")
	}
	final := ins[last:]
	var user, entry *instruction
	runs := ""
	for i := range final {
		switch final[i].Cmd {
		case "USER":
			user = &final[i]
		case "ENTRYPOINT":
			entry = &final[i]
		case "RUN":
			runs += " " + final[i].Args
		}
	}
	if user == nil {
		bad = append(bad, "final stage: no USER (the image would run as root)")
	} else {
		u, _, _ := strings.Cut(user.Args, ":")
		if u == "0" || u == "root" || u == "" {
			fail(*user, "runs as root")
		}
	}
	if entry == nil {
		bad = append(bad, "final stage: no ENTRYPOINT")
	} else if !strings.HasPrefix(entry.Args, "[") {
		fail(*entry, "shell form %q: signals would go to a shell, not the role (use exec form)", entry.Args)
	} else if !strings.HasPrefix(entry.Args, `["`+w.Entrypoint+`"`) {
		fail(*entry, "runs %s, want %s", entry.Args, w.Entrypoint)
	}
	for _, p := range w.Packages {
		if !regexp.MustCompile(`apt-get install[^&;]*\b` + regexp.QuoteMeta(p) + `\b`).MatchString(runs) {
			bad = append(bad, fmt.Sprintf("final stage: package %s not installed", p))
		}
	}
	copied := false
	for _, in := range final {
		if in.Cmd == "COPY" && strings.HasSuffix(strings.TrimSpace(in.Args), " "+w.Entrypoint) {
			copied = true
		}
	}
	if !copied {
		bad = append(bad, fmt.Sprintf("final stage: nothing is copied to %s", w.Entrypoint))
	}
	return bad
}
