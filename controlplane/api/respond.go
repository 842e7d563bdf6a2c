package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/reqid"
	"github.com/atrium-live/atrium/controlplane/store"
)

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string            `json:"code"`
	Message   string            `json:"message"`
	Fields    map[string]string `json:"fields,omitempty"`
	Details   map[string]any    `json:"details,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
}

// writeError writes err as the standard error body. A *problem.Error is shown as is; a
// store.ErrNotFound becomes 404; anything else is a 500 whose cause is logged, not sent.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p, ok := problem.As(err)
	if !ok {
		switch {
		case errors.Is(err, store.ErrNotFound):
			p = problem.New(http.StatusNotFound, problem.CodeNotFound, "not found")
		case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
			p = problem.New(499, "client_closed", "request cancelled")
		default:
			log.Error("internal error", "request_id", reqid.From(r.Context()), "route", routeName(r), "err", err)
			p = problem.New(http.StatusInternalServerError, problem.CodeInternal, "internal error")
		}
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(p.RetryAfter.Seconds()))))
	}
	writeJSON(w, p.Status, errorBody{Error: errorDetail{Code: p.Code, Message: p.Message, Fields: p.Fields,
		Details: p.Details, RequestID: reqid.From(r.Context())}})
}

// decode reads a JSON body into dst strictly: unknown fields, trailing data, wrong types and
// oversized bodies are client errors. The OpenAPI validator has already run; this is the
// second line of defence and the typed parse.
func decode(r *http.Request, dst any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return problem.New(http.StatusBadRequest, problem.CodeBadJSON, "request body must hold a single JSON value")
	}
	return nil
}

func jsonProblem(err error) error {
	var (
		mbe *http.MaxBytesError
		ute *json.UnmarshalTypeError
		pe  *time.ParseError
	)
	switch {
	case errors.As(err, &mbe):
		return problem.New(http.StatusRequestEntityTooLarge, problem.CodeBodyTooLarge, "request body too large")
	case errors.As(err, &ute):
		field := ute.Field
		if field == "" {
			field = "body"
		}
		return problem.Validation(map[string]string{field: "must be of type " + jsonKind(ute.Type.Kind().String())})
	case errors.As(err, &pe):
		return problem.Validation(map[string]string{"body": "timestamps must be RFC 3339, e.g. 2030-01-02T15:04:05Z"})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return problem.Validation(map[string]string{name: "is not a known field"})
	case errors.Is(err, io.EOF):
		return problem.New(http.StatusBadRequest, problem.CodeBadJSON, "request body is empty")
	}
	return problem.New(http.StatusBadRequest, problem.CodeBadJSON, "request body is not valid JSON")
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "number"
	case k == "struct", k == "map":
		return "object"
	case k == "slice":
		return "array"
	}
	return k
}

// pathVar returns a route variable (the only way handlers read them, so the router can change).
func pathVar(r *http.Request, name string) string { return mux.Vars(r)[name] }

// pathUUID returns a route variable that must be a UUID, or a 404 problem (an unparseable id
// cannot name anything).
func pathUUID(r *http.Request, name string) (string, error) {
	v := strings.ToLower(pathVar(r, name))
	if !isUUID(v) {
		return "", problem.New(http.StatusNotFound, problem.CodeNotFound, "not found")
	}
	return v, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// queryInt parses an optional integer query parameter within [min, max].
func queryInt(r *http.Request, f problem.Field, name string, min, max int) *int {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < min || n > max {
		f.Add(name, fmt.Sprintf("must be an integer from %d to %d", min, max))
		return nil
	}
	return &n
}

// queryTime parses an optional RFC 3339 query parameter.
func queryTime(r *http.Request, f problem.Field, name string) *time.Time {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		f.Add(name, "must be an RFC 3339 timestamp")
		return nil
	}
	return &t
}

// routeHolder lets observe (outside the router) learn the route template the router matched.
type routeHolder struct{ name string }

type routeKey struct{}

// recordRoute is router middleware: it runs after matching and stores the template.
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := r.Context().Value(routeKey{}).(*routeHolder); ok {
			h.name = routeName(r)
		}
		next.ServeHTTP(w, r)
	})
}

// routeName is the matched route template (low-cardinality, safe for metrics and logs).
func routeName(r *http.Request) string {
	if rt := mux.CurrentRoute(r); rt != nil {
		if t, err := rt.GetPathTemplate(); err == nil {
			return t
		}
	}
	if h, ok := r.Context().Value(routeKey{}).(*routeHolder); ok {
		return h.name
	}
	return "unmatched"
}
