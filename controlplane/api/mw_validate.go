package api

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/atrium-live/atrium/controlplane/problem"
)

//go:embed openapi.yaml
var specYAML []byte

// LoadSpec parses and validates the embedded OpenAPI document.
func LoadSpec(ctx context.Context) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(specYAML)
	if err != nil {
		return nil, fmt.Errorf("api: load openapi spec: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("api: invalid openapi spec: %w", err)
	}
	return doc, nil
}

// validator checks every request that matches an operation of the spec (parameters, content
// type and body schema) before any handler sees it. Requests outside the spec (UI, health,
// metrics) pass through; unknown /api paths fall through to the router's 404.
func validator(doc *openapi3.T, h *Handler) (func(http.Handler) http.Handler, error) {
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("api: openapi router: %w", err)
	}
	// Schema details (the schema and the offending value, pretty-printed) are never rendered:
	// we report reasons only, and rendering them cost hundreds of MB for one crafted body.
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()}}
	maxDepth := h.MaxJSONDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxJSONDepth
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			route, params, err := router.FindRoute(r)
			if err != nil {
				if errors.Is(err, routers.ErrMethodNotAllowed) {
					writeError(w, r, h.Log, problem.New(http.StatusMethodNotAllowed, problem.CodeMethodNotAllowed, "method not allowed"))
					return
				}
				next.ServeHTTP(w, r)
				return
			}
			if err := checkBodyDepth(r, maxDepth); err != nil {
				writeError(w, r, h.Log, err)
				return
			}
			in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
			if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
				writeError(w, r, h.Log, specProblem(err))
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// DefaultMaxJSONDepth is the nesting limit when Handler.MaxJSONDepth is zero. Our request
// bodies nest three levels at most.
const DefaultMaxJSONDepth = 32

// checkBodyDepth reads the body (already capped by limitBody), refuses it with 400 when it
// nests deeper than max, and puts it back for the validator and the handler.
func checkBodyDepth(r *http.Request, max int) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	data, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return problem.New(http.StatusRequestEntityTooLarge, problem.CodeBodyTooLarge, "request body too large")
		}
		return problem.New(http.StatusBadRequest, problem.CodeBadRequest, "could not read the request body")
	}
	if !jsonDepthOK(data, max) {
		return problem.New(http.StatusBadRequest, problem.CodeBadJSON, fmt.Sprintf("%s (more than %d levels)", errTooDeep, max))
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	r.ContentLength = int64(len(data))
	return nil
}

// specProblem turns kin-openapi's validation errors into our error body: field errors are 422
// keyed by JSON path or parameter name; malformed JSON is 400; a wrong content type 415.
func specProblem(err error) error {
	var errs []error
	var me openapi3.MultiError
	if errors.As(err, &me) {
		errs = me
	} else {
		errs = []error{err}
	}
	fields := problem.Field{}
	for _, e := range errs {
		var mbe *http.MaxBytesError
		if errors.As(e, &mbe) {
			return problem.New(http.StatusRequestEntityTooLarge, problem.CodeBodyTooLarge, "request body too large")
		}
		var re *openapi3filter.RequestError
		if !errors.As(e, &re) {
			fields.Add("request", "is invalid")
			continue
		}
		switch {
		case re.Parameter != nil:
			fields.Add(re.Parameter.Name, paramReason(re))
		case re.RequestBody != nil:
			var pe *openapi3filter.ParseError
			if errors.As(re.Err, &pe) || strings.Contains(re.Error(), "failed to decode request body") {
				if strings.Contains(re.Error(), "unsupported content type") {
					return problem.New(http.StatusUnsupportedMediaType, problem.CodeUnsupportedMedia, "send application/json")
				}
				return problem.New(http.StatusBadRequest, problem.CodeBadJSON, "request body is not valid JSON")
			}
			if strings.Contains(re.Error(), "header Content-Type has unexpected value") || strings.Contains(re.Error(), "unsupported content type") {
				return problem.New(http.StatusUnsupportedMediaType, problem.CodeUnsupportedMedia, "send application/json")
			}
			if re.Err == nil || strings.Contains(re.Error(), "value is required but missing") {
				return problem.New(http.StatusBadRequest, problem.CodeBadJSON, "request body is required")
			}
			addSchemaErrors(fields, re.Err)
		default:
			fields.Add("request", re.Error())
		}
	}
	if len(fields) == 0 {
		return problem.New(http.StatusBadRequest, problem.CodeBadRequest, "invalid request")
	}
	return problem.Validation(fields)
}

func addSchemaErrors(fields problem.Field, err error) {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		for _, e := range me {
			addSchemaErrors(fields, e)
		}
		return
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		path := strings.Join(se.JSONPointer(), ".")
		if se.SchemaField == "required" || path == "" {
			// "property \"x\" is missing": the field is the missing property.
			if name, ok := missingProperty(se.Reason); ok {
				if path != "" && path != name && !strings.HasSuffix(path, "."+name) {
					name = path + "." + name
				} else if path != "" {
					name = path
				}
				fields.Add(name, "is required")
				return
			}
		}
		if path == "" {
			path = "body"
		}
		fields.Add(path, se.Reason)
		return
	}
	fields.Add("body", "is invalid")
}

func missingProperty(reason string) (string, bool) {
	const p = `property "`
	i := strings.Index(reason, p)
	if i < 0 || !strings.Contains(reason, "is missing") {
		return "", false
	}
	rest := reason[i+len(p):]
	j := strings.Index(rest, `"`)
	if j < 0 {
		return "", false
	}
	return rest[:j], true
}

func paramReason(re *openapi3filter.RequestError) string {
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		return se.Reason
	}
	if re.Reason != "" {
		return re.Reason
	}
	if re.Err != nil {
		return strings.TrimPrefix(re.Err.Error(), "value ")
	}
	return "is invalid"
}
