package sfu_test

import (
	"net/http"
	"testing"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// Browsers must be able to read the validate answers cross-origin, or livekit-client cannot
// tell a 404 on /rtc/v1/validate (fall back to /rtc) from an unreachable server.
func TestValidateEndpointsAllowCrossOriginReads(t *testing.T) {
	srv := sfutest.Serve(t)
	for _, path := range []string{"/rtc/v1/validate", "/rtc/validate"} {
		req, _ := http.NewRequest(http.MethodGet, srv.HTTPURL()+path+"?access_token=x", nil)
		req.Header.Set("Origin", "http://127.0.0.1:1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("GET %s: Access-Control-Allow-Origin = %q, want *", path, got)
		}
	}
}
