// Command schemagen writes the offline, strict JSON schemas kubeconform checks the chart
// against (deploy/chart/schemas/), one file per Kubernetes kind the chart renders, from a
// Kubernetes OpenAPI v2 document (swagger.json). Run by hand when the chart uses a new kind:
//
//	go run ./tests/chart/schemagen -swagger $(go env GOMODCACHE)/k8s.io/cli-runtime@v0.37.2/artifacts/openapi/swagger.json -out deploy/chart/schemas
//
// Each schema is standalone (every $ref inlined) and strict (additionalProperties: false on
// every object with declared properties), the layout kubeconform's
// -schema-location 'DIR/{{.ResourceKind}}{{.KindSuffix}}.json' expects. Descriptions are
// dropped to keep the files small.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
)

// kinds the chart renders: definition name → file name (kind-group-version).
var kinds = map[string]string{
	"io.k8s.api.core.v1.ConfigMap":             "configmap-v1",
	"io.k8s.api.core.v1.Secret":                "secret-v1",
	"io.k8s.api.core.v1.Service":               "service-v1",
	"io.k8s.api.core.v1.ServiceAccount":        "serviceaccount-v1",
	"io.k8s.api.apps.v1.Deployment":            "deployment-apps-v1",
	"io.k8s.api.apps.v1.DaemonSet":             "daemonset-apps-v1",
	"io.k8s.api.apps.v1.StatefulSet":           "statefulset-apps-v1",
	"io.k8s.api.batch.v1.Job":                  "job-batch-v1",
	"io.k8s.api.policy.v1.PodDisruptionBudget": "poddisruptionbudget-policy-v1",
	"io.k8s.api.networking.k8s.io.v1.Ingress":  "ingress-networking-v1",
	"io.k8s.api.networking.v1.Ingress":         "ingress-networking-v1",
}

func main() {
	swagger := flag.String("swagger", "", "Kubernetes swagger.json (OpenAPI v2)")
	out := flag.String("out", "deploy/chart/schemas", "output directory")
	flag.Parse()
	raw, err := os.ReadFile(*swagger)
	if err != nil {
		log.Fatal(err)
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for def, file := range kinds {
		d, ok := doc.Definitions[def]
		if !ok {
			continue
		}
		s := inline(d, doc.Definitions, 0).(map[string]any)
		s["$schema"] = "http://json-schema.org/schema#"
		b, err := json.MarshalIndent(s, "", " ")
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*out, file+".json"), append(b, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Println("wrote", file)
	}
}

// inline returns v with every $ref replaced by its definition, strict objects and the
// Kubernetes special types (int-or-string, quantity) as kubeconform's own schemas spell them.
func inline(v any, defs map[string]map[string]any, depth int) any {
	if depth > 60 {
		log.Fatal("schema too deep: a recursive type?")
	}
	switch t := v.(type) {
	case map[string]any:
		if ref, ok := t["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/definitions/")
			switch name {
			case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
				return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
			case "io.k8s.apimachinery.pkg.api.resource.Quantity":
				return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
			}
			return inline(defs[name], defs, depth+1)
		}
		out := map[string]any{}
		for k, c := range t {
			switch k {
			case "description", "x-kubernetes-group-version-kind", "x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key",
				"x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-unions":
				continue
			case "properties":
				props := map[string]any{}
				for pk, pv := range c.(map[string]any) {
					props[pk] = inline(pv, defs, depth+1)
				}
				out[k] = props
			default:
				out[k] = inline(c, defs, depth+1)
			}
		}
		if _, ok := out["properties"]; ok {
			out["additionalProperties"] = false
			if _, typed := out["type"]; !typed {
				out["type"] = "object"
			}
		}
		// Nullable scalars and objects, as in kubeconform's schemas (YAML null is common).
		if ty, ok := out["type"].(string); ok {
			out["type"] = []any{ty, "null"}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = inline(c, defs, depth+1)
		}
		return out
	}
	return v
}
