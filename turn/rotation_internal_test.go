package turn

import (
	"net"
	"testing"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"

	"github.com/atrium-live/atrium/pkg/turncred"
)

// The stream observer finds each STUN message in a TCP byte stream however the reads split it,
// skipping ChannelData frames (padded to 4 bytes over TCP, RFC 8656 §12.5) between them, and
// records which secret signed it.
func TestObservingConnFramesStream(t *testing.T) {
	const realm = "atrium"
	secrets := newSecretSet("new-secret", "old-secret")
	signed := func(secret, user string) []byte {
		key := pionturn.GenerateAuthKey(user, realm, turncred.Password(secret, user))
		m, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodRefresh, stun.ClassRequest),
			stun.NewUsername(user), stun.NewRealm(realm), stun.NewNonce("n"), stun.MessageIntegrity(key), stun.Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		return m.Raw
	}
	channelData := []byte{0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0} // 5 bytes + 3 padding
	var stream []byte
	stream = append(stream, signed("old-secret", "1:alice")...)
	stream = append(stream, channelData...)
	stream = append(stream, signed("new-secret", "1:bob")...)
	stream = append(stream, signed("wrong", "1:eve")...)

	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}
	for _, chunk := range []int{1, 3, 7, 20, len(stream)} {
		secrets.set("new-secret", "old-secret") // clears what the last round learned
		c := &observingConn{Conn: fakeConn{remote: remote}, secrets: secrets, realm: realm}
		for b := stream; len(b) > 0; {
			n := min(chunk, len(b))
			c.feed(b[:n])
			b = b[n:]
		}
		if c.lost {
			t.Fatalf("chunks of %d: framing lost", chunk)
		}
		for user, want := range map[string]string{"1:alice": "old-secret", "1:bob": "new-secret", "1:eve": "new-secret"} {
			if got := secrets.secretFor(remote, user); got != want {
				t.Errorf("chunks of %d: secretFor(%s) = %q, want %q", chunk, user, got, want)
			}
		}
	}
}

type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (f fakeConn) RemoteAddr() net.Addr { return f.remote }
