// Package chart checks the Helm chart in deploy/chart without a cluster: helm lint --strict,
// kubeconform against committed offline schemas, and the policy in this file, which knows
// Atrium: every ATRIUM_* variable the chart sets must be a real setting of the role it runs
// (the bug that left the old manifests unable to start), every config file must decode into
// the role's config with unknown keys refused, every secret file a role is told to read must be
// a key of a Secret the pod mounts, probes must separate liveness from readiness, and pods
// must run non-root with resources set and a pinned image.
package chart

import (
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/pkg/config"
	"github.com/atrium-live/atrium/pkg/telemetry"
	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/signaling"
	"github.com/atrium-live/atrium/turn"
)

// Object is one rendered manifest, decoded as YAML maps.
type Object map[string]any

// ParseManifests splits helm template output into objects, skipping empty documents.
func ParseManifests(out []byte) ([]Object, error) {
	var objs []Object
	dec := yaml.NewDecoder(strings.NewReader(string(out)))
	for {
		var o map[string]any // not Object: yaml.v3 would give nested maps that type too
		err := dec.Decode(&o)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("parse manifests: %w", err)
		}
		if len(o) > 0 {
			objs = append(objs, o)
		}
	}
}

// role is what the policy knows of one `atrium <role>` command.
type role struct {
	prefix    string
	newConfig func() any // pointer to the role's default config
}

// roles maps a container's first argument to its config. A role missing here (a new one)
// may set no ATRIUM_* variable until it is added, so nothing it is given goes unchecked.
var roles = map[string]role{
	"sfu":          {"ATRIUM_SFU", func() any { c := sfu.DefaultConfig(); return &c }},
	"turn":         {"ATRIUM_TURN", func() any { c := turn.DefaultConfig(); return &c }},
	"controlplane": {"ATRIUM", func() any { c := controlplane.DefaultConfig(); return &c }},
	"migrate":      {"ATRIUM", func() any { c := controlplane.DefaultConfig(); return &c }},
	"signal":       {"ATRIUM_SIGNAL", func() any { c := signaling.DefaultConfig(); return &c }},
}

// configFiles maps a config file name in the chart's ConfigMap to its role.
var configFiles = map[string]string{"sfu.yaml": "sfu", "turn.yaml": "turn", "controlplane.yaml": "controlplane"}

// Check returns every policy violation in objs, sorted; none means the chart passes.
func Check(objs []Object) []string {
	var v []string
	bad := func(format string, a ...any) { v = append(v, fmt.Sprintf(format, a...)) }

	secrets := map[string]map[string]bool{} // name → keys
	configMaps := map[string]map[string]string{}
	for _, o := range objs {
		name := str(o, "metadata", "name")
		switch str(o, "kind") {
		case "Secret":
			keys := map[string]bool{}
			for _, field := range []string{"data", "stringData"} {
				for k := range m(o, field) {
					keys[k] = true
				}
			}
			secrets[name] = keys
		case "ConfigMap":
			data := map[string]string{}
			for k, val := range m(o, "data") {
				data[k], _ = val.(string)
			}
			configMaps[name] = data
			for file, content := range data {
				r, ok := configFiles[file]
				if !ok {
					continue
				}
				if err := config.DecodeYAML([]byte(content), roles[r].newConfig()); err != nil {
					bad("ConfigMap %s: %s is not a valid %s config: %v", name, file, r, err)
				}
			}
		}
	}

	pdbSelectors := []map[string]any{}
	for _, o := range objs {
		if str(o, "kind") == "PodDisruptionBudget" {
			pdbSelectors = append(pdbSelectors, m(o, "spec", "selector", "matchLabels"))
		}
	}

	for _, o := range objs {
		kind, name := str(o, "kind"), str(o, "metadata", "name")
		var pod map[string]any
		var podLabels map[string]any
		switch kind {
		case "Deployment", "DaemonSet", "StatefulSet", "Job":
			pod = m(o, "spec", "template", "spec")
			podLabels = m(o, "spec", "template", "metadata", "labels")
		default:
			continue
		}
		where := kind + " " + name
		longRunning := kind != "Job"
		if kind == "Deployment" && strings.HasSuffix(name, "-controlplane") {
			if n, _ := o["spec"].(map[string]any)["replicas"].(int); n < 2 {
				bad("%s: replicas %d, want at least 2", where, n)
			}
			if !anySelects(pdbSelectors, podLabels) {
				bad("%s: no PodDisruptionBudget selects its pods", where)
			}
		}
		psc := m(pod, "securityContext")
		if psc["runAsNonRoot"] != true {
			bad("%s: pod securityContext.runAsNonRoot is not true", where)
		}
		if uid, ok := psc["runAsUser"].(int); !ok || uid == 0 {
			bad("%s: pod securityContext.runAsUser must be a non-zero uid", where)
		}
		if pod["hostNetwork"] == true && pod["dnsPolicy"] != "ClusterFirstWithHostNet" {
			bad("%s: hostNetwork without dnsPolicy ClusterFirstWithHostNet (cluster DNS would not resolve)", where)
		}

		// Volumes: which Secret or ConfigMap is mounted where.
		secretVols, cmVols := map[string]string{}, map[string]string{}
		for _, vol := range list(pod, "volumes") {
			vm := vol.(map[string]any)
			if s := str(vm, "secret", "secretName"); s != "" {
				secretVols[str(vm, "name")] = s
				if _, ok := secrets[s]; !ok {
					bad("%s: volume %s mounts Secret %s, which the chart does not render", where, str(vm, "name"), s)
				}
			}
			if c := str(vm, "configMap", "name"); c != "" {
				cmVols[str(vm, "name")] = c
				if _, ok := configMaps[c]; !ok {
					bad("%s: volume %s mounts ConfigMap %s, which the chart does not render", where, str(vm, "name"), c)
				}
			}
		}

		for _, c := range list(pod, "containers") {
			cm := c.(map[string]any)
			cw := where + " container " + str(cm, "name")
			mounts := map[string]string{} // mount path → volume name
			for _, mt := range list(cm, "volumeMounts") {
				mm := mt.(map[string]any)
				mounts[str(mm, "mountPath")] = str(mm, "name")
			}
			// fileIn resolves a path to (kind, object name, key) through the mounts.
			fileIn := func(p string) (kind, obj, key string) {
				dir, key := path.Split(p)
				vol := mounts[strings.TrimSuffix(dir, "/")]
				if s, ok := secretVols[vol]; ok {
					return "Secret", s, key
				}
				if c, ok := cmVols[vol]; ok {
					return "ConfigMap", c, key
				}
				return "", "", key
			}
			checkFile := func(what, p string) {
				kind, obj, key := fileIn(p)
				switch kind {
				case "Secret":
					if keys, ok := secrets[obj]; ok && !keys[key] {
						bad("%s: %s reads %s, but Secret %s has no key %q", cw, what, p, obj, key)
					}
				case "ConfigMap":
					if data, ok := configMaps[obj]; ok {
						if _, has := data[key]; !has {
							bad("%s: %s reads %s, but ConfigMap %s has no key %q", cw, what, p, obj, key)
						}
					}
				default:
					bad("%s: %s reads %s, which no Secret or ConfigMap volume provides", cw, what, p)
				}
			}

			image := str(cm, "image")
			if !strings.Contains(image, "@sha256:") {
				tag := image[strings.LastIndex(image, "/")+1:]
				if i := strings.LastIndex(tag, ":"); i < 0 || tag[i+1:] == "latest" || tag[i+1:] == "" {
					bad("%s: image %q is not pinned (no tag, or :latest)", cw, image)
				}
			}
			res := m(cm, "resources")
			if m(res, "requests")["cpu"] == nil || m(res, "requests")["memory"] == nil || m(res, "limits")["memory"] == nil {
				bad("%s: resources need requests.cpu, requests.memory and limits.memory", cw)
			}
			csc := m(cm, "securityContext")
			if csc["allowPrivilegeEscalation"] != false || csc["readOnlyRootFilesystem"] != true {
				bad("%s: securityContext needs allowPrivilegeEscalation false and readOnlyRootFilesystem true", cw)
			}
			if caps := m(csc, "capabilities"); !containsStr(listOf(caps["drop"]), "ALL") {
				bad("%s: securityContext.capabilities.drop must include ALL", cw)
			}
			if longRunning {
				live, ready := str(cm, "livenessProbe", "httpGet", "path"), str(cm, "readinessProbe", "httpGet", "path")
				switch {
				case live == "" || ready == "":
					bad("%s: needs HTTP liveness and readiness probes", cw)
				case live == ready:
					bad("%s: liveness and readiness probe the same path %s (an outage of Redis would get healthy pods killed)", cw, live)
				case live != "/healthz" || ready != "/readyz":
					bad("%s: probes %s/%s, want /healthz for liveness and /readyz for readiness", cw, live, ready)
				}
			}

			args := listOf(cm["args"])
			roleName := ""
			if len(args) > 0 {
				roleName = args[0]
			}
			for i, a := range args {
				if a == "--config" && i+1 < len(args) {
					checkFile("--config", args[i+1])
				}
			}
			r, known := roles[roleName]
			var valid map[string]bool
			if known {
				valid = map[string]bool{}
				for _, n := range config.EnvNames(r.newConfig(), r.prefix) {
					valid[n] = true
				}
				// Every role reads the telemetry variables too (pkg/telemetry).
				for _, n := range config.EnvNames(&telemetry.Config{}, telemetry.EnvPrefix) {
					valid[n] = true
				}
			}
			env := map[string]string{}
			for _, e := range list(cm, "env") {
				em := e.(map[string]any)
				n := str(em, "name")
				val, _ := em["value"].(string)
				if _, dup := env[n]; dup {
					bad("%s: env %s is set twice (Kubernetes keeps the last one)", cw, n)
				}
				env[n] = val
				if ref := m(em, "valueFrom", "secretKeyRef"); ref != nil {
					if keys, ok := secrets[str(ref, "name")]; !ok || !keys[str(ref, "key")] {
						bad("%s: env %s refers to key %q of Secret %q, which the chart does not render", cw, n, str(ref, "key"), str(ref, "name"))
					}
				}
				if !strings.HasPrefix(n, "ATRIUM_") {
					continue
				}
				if !known {
					bad("%s: role %q has no known config, so %s cannot be checked (add the role to tests/chart roles)", cw, roleName, n)
					continue
				}
				base, isFile := strings.CutSuffix(n, "_FILE")
				if !valid[n] && !(isFile && valid[base]) {
					bad("%s: %s is not a setting of `atrium %s` (its variables start with %s_ and follow config keys)", cw, n, roleName, r.prefix)
				}
				if isFile || strings.HasSuffix(n, "_KEY_FILE") {
					checkFile(n, val)
				}
			}
			// The SFU and TURN drain on SIGTERM: the grace period must cover preStop + drain.
			if d, ok := env[r.prefix+"_DRAIN_TIMEOUT"]; known && ok && roleName != "controlplane" {
				drain, err := time.ParseDuration(d)
				grace, _ := pod["terminationGracePeriodSeconds"].(int)
				pre := 0
				if cmd := listOf(m(cm, "lifecycle", "preStop", "exec")["command"]); len(cmd) == 2 && cmd[0] == "sleep" {
					pre, _ = strconv.Atoi(cmd[1])
				}
				if err != nil || time.Duration(grace)*time.Second < drain+time.Duration(pre)*time.Second+10*time.Second {
					bad("%s: terminationGracePeriodSeconds %d does not cover preStop %ds + drain_timeout %s + 10 s", cw, grace, pre, d)
				}
			}
		}
	}
	sort.Strings(v)
	return v
}

func anySelects(selectors []map[string]any, labels map[string]any) bool {
	for _, sel := range selectors {
		if len(sel) == 0 {
			continue
		}
		match := true
		for k, want := range sel {
			if labels[k] != want {
				match = false
			}
		}
		if match {
			return true
		}
	}
	return false
}

// m walks nested maps; a missing step gives nil (which reads as an empty map).
func m(o map[string]any, keys ...string) map[string]any {
	cur := o
	for _, k := range keys {
		next, _ := cur[k].(map[string]any)
		if next == nil {
			return nil
		}
		cur = next
	}
	return cur
}

func str(o map[string]any, keys ...string) string {
	if len(keys) == 0 {
		return ""
	}
	s, _ := m(o, keys[:len(keys)-1]...)[keys[len(keys)-1]].(string)
	return s
}

func list(o map[string]any, key string) []any {
	l, _ := o[key].([]any)
	return l
}

func listOf(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
