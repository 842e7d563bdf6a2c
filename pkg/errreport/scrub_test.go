package errreport

import "testing"

func TestScrub(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"user alice@example.com not found", "user [email] not found"},
		{"dial tcp 10.1.2.3:5432: connection refused", "dial tcp [ip]: connection refused"},
		{"peer 192.168.0.17 left", "peer [ip] left"},
		{"from [2001:db8::1]:443", "from [ip]"},
		{"from fe80::1%eth0 and ::1", "from [ip] and [ip]"},
		{"Authorization: Bearer abc.def", "Authorization: Bearer [token]"},
		{"token=s3cr3t&room=a", "token=[redacted]&room=a"},
		{`{"password": "hunter2"}`, `{"password": "[redacted]"}`},
		{"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt [token]"},
		{"user 3f0c2a5e-9f4b-4c3e-8d2a-1b2c3d4e5f60 booked", "user [token] booked"},
		// Not personal, left alone:
		{"status 500 after 12:30:45 in v1.2.3", "status 500 after 12:30:45 in v1.2.3"},
		{"room math-101 has 3 tracks", "room math-101 has 3 tracks"},
		{"ledger imbalance: sum = -5", "ledger imbalance: sum = -5"},
	} {
		if got := Scrub(tc.in); got != tc.want {
			t.Errorf("Scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSensitiveKey(t *testing.T) {
	for k, want := range map[string]bool{
		"email": true, "user_email": true, "remote_addr": true, "ip": true, "api_key": true,
		"http.authorization": true, "token": true, "display_name": true,
		"room": false, "status": false, "route": false, "duration": false, "request_id": false,
	} {
		if got := sensitiveKey(k); got != want {
			t.Errorf("sensitiveKey(%q) = %v, want %v", k, got, want)
		}
	}
}
