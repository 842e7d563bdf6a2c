package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
)

// Every API route must be described (and so validated) by the OpenAPI document, and every
// operation the document describes must exist.
func TestRoutesMatchSpec(t *testing.T) {
	spec, err := LoadSpec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{Spec: spec, Metrics: NewMetrics(prometheus.NewRegistry()), MetricsHandler: http.NotFoundHandler(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r := h.routeTable(nil)
	routed := map[string]bool{}
	err = r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil || !strings.HasPrefix(path, "/api/v1/") {
			return nil
		}
		methods, err := route.GetMethods()
		if err != nil {
			return nil
		}
		rel := strings.TrimPrefix(path, "/api/v1")
		for _, m := range methods {
			routed[m+" "+rel] = true
			item := spec.Paths.Value(rel)
			if item == nil || item.GetOperation(m) == nil {
				t.Errorf("route %s %s is not in openapi.yaml", m, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(routed) < 40 {
		t.Fatalf("walked only %d API routes; the walk is broken", len(routed))
	}
	for path, item := range spec.Paths.Map() {
		for m := range item.Operations() {
			if !routed[m+" "+path] {
				t.Errorf("openapi.yaml describes %s %s, which no route serves", m, path)
			}
		}
	}
}
