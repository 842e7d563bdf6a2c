package controlplane_test

import (
	"testing"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

func TestSmoke(t *testing.T) {
	env := cptest.Serve(t)
	env.Do(t, "GET", "/healthz", "", nil).Want(t, 200)
	env.Do(t, "GET", "/readyz", "", nil).Want(t, 200)
	env.Do(t, "GET", "/api/openapi.json", "", nil).Want(t, 200)
	u := env.NewUser(t, "teacher")
	env.Do(t, "GET", "/api/v1/me", u.Token, nil).Want(t, 200)
	c := env.CreateClass(t, u, cptest.ClassSpec{})
	t.Log(c)
	r := env.Do(t, "GET", "/api/v1/classes?q=concurrency", "", nil).Want(t, 200)
	t.Log(string(r.Body))
}
