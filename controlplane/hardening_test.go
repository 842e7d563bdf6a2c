package controlplane_test

import (
	"strings"
	"testing"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

// Issue 17, finding 1: a small, deeply nested body sent unauthenticated to login cost 15 s
// of CPU and 1.5 GB in the OpenAPI validator's error rendering. It must be refused at once.
func TestDeeplyNestedJSONRefused(t *testing.T) {
	env := cptest.Serve(t)
	const depth = 3000 // enough to cost seconds and hundreds of MB without the limit
	body := `{"email":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `,"password":"x"}`
	res := env.Do(t, "POST", "/api/v1/auth/login", "", body).WantError(t, 400, "bad_json")
	if !strings.Contains(string(res.Body), "nests too deeply") {
		t.Errorf("body = %s, want it to name the nesting limit", res.Body)
	}
	// Just under the limit the validator runs and reports the field; the report stays small
	// (no schema or value dump).
	ok := `{"email":` + strings.Repeat("[", 30) + strings.Repeat("]", 30) + `,"password":"x"}`
	res = env.Do(t, "POST", "/api/v1/auth/login", "", ok).WantError(t, 422, "validation_failed")
	if len(res.Body) > 2048 {
		t.Errorf("validation error is %d bytes: %.300s", len(res.Body), res.Body)
	}
	// A wrong type with a large value is reported without echoing the value.
	big := `{"email":{"x":"` + strings.Repeat("a", 200<<10) + `"},"password":"x"}`
	res = env.Do(t, "POST", "/api/v1/auth/login", "", big).WantError(t, 422, "validation_failed")
	if len(res.Body) > 2048 {
		t.Errorf("validation error is %d bytes", len(res.Body))
	}
}
