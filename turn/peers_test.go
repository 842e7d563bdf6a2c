package turn_test

import (
	"net"
	"testing"

	"github.com/atrium-live/atrium/turn"
	"github.com/atrium-live/atrium/turn/turntest"
)

// Permissions for peers on refused ranges get 403 and nothing is relayed to them; a permitted
// peer on the same allocation keeps working.
func TestPeerRefused(t *testing.T) {
	relay := turntest.Serve(t, turntest.Options{Configure: func(c *turn.Config) {
		c.Peers.Allow = []string{"127.0.0.1"} // only this loopback address; the rest of 127/8 stays refused
	}})
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			client := clientFor(t, relay, transport, "p-"+transport)
			rc := allocate(t, client)
			for _, ip := range []string{"127.0.0.2", "10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.169.254", "100.64.0.1", "224.0.0.1"} {
				err := client.CreatePermission(&net.UDPAddr{IP: net.ParseIP(ip), Port: 9})
				if code := turnCode(err); code != 403 {
					t.Errorf("CreatePermission(%s): err = %v (code %d), want 403", ip, err, code)
				}
			}
			exchange(t, rc, newPeer(t), 2)
		})
	}
	if got := metricValue(t, relay.Server.Registry(), "atrium_turn_peer_denied_total", nil); got != 14 {
		t.Errorf("peer_denied_total = %v, want 14", got)
	}
}

func TestPeerPolicyTable(t *testing.T) {
	cases := []struct {
		ip    string
		allow []string
		deny  []string
		want  bool
	}{
		{"8.8.8.8", nil, nil, true},
		{"2001:4860:4860::8888", nil, nil, true},
		{"127.0.0.1", nil, nil, false},
		{"::1", nil, nil, false},
		{"::ffff:127.0.0.1", nil, nil, false},
		{"::ffff:10.0.0.1", nil, nil, false},
		{"10.200.0.1", nil, nil, false},
		{"172.31.255.255", nil, nil, false},
		{"172.32.0.1", nil, nil, true},
		{"192.168.0.1", nil, nil, false},
		{"169.254.169.254", nil, nil, false},
		{"fe80::1", nil, nil, false},
		{"fd00::1", nil, nil, false},
		{"0.0.0.0", nil, nil, false},
		{"255.255.255.255", nil, nil, false},
		{"127.0.0.1", []string{"127.0.0.0/8"}, nil, true},
		{"::ffff:127.0.0.1", []string{"127.0.0.0/8"}, nil, true},
		{"10.0.0.1", []string{"10.0.0.0/24"}, nil, true},
		{"10.0.1.1", []string{"10.0.0.0/24"}, nil, false},
		{"203.0.114.9", nil, []string{"203.0.114.0/24"}, false},
		{"203.0.114.9", []string{"203.0.114.9"}, []string{"203.0.114.0/24"}, true},
	}
	for _, tc := range cases {
		got, err := turn.PeerPermitted(turn.PeersConfig{Allow: tc.allow, Deny: tc.deny}, net.ParseIP(tc.ip))
		if err != nil {
			t.Fatalf("PeerPermitted(%v): %v", tc, err)
		}
		if got != tc.want {
			t.Errorf("PeerPermitted(allow=%v deny=%v, %s) = %v, want %v", tc.allow, tc.deny, tc.ip, got, tc.want)
		}
	}
}
