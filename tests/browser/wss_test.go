package browser

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/tlsfile"
	"github.com/atrium-live/atrium/pkg/tlsfile/tlsfiletest"
	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestPublishSubscribeWSS: livekit-client in Chromium joins an SFU that serves WSS itself
// (pkg/tlsfile, as `atrium sfu` with tls.cert_file does) with a certificate from a test CA,
// which the browser trusts through an SPKI pin and nothing else; media flows as over ws://.
func TestPublishSubscribeWSS(t *testing.T) {
	h := newHarness(t)
	ca := tlsfiletest.NewCA(t)
	certFile, keyFile := ca.Issue(t, "sfu", time.Now().Add(time.Hour))
	certs, err := tlsfile.Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := certs.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sfu.New(sfutest.Config(), sfu.Deps{HTTPListener: ln})
	if err != nil {
		t.Fatal(err)
	}
	srv.UseHSTS()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Errorf("SFU did not stop within 20 s")
		}
	})

	// Chromium trusts exactly this certificate: the base64 SHA-256 of its public key.
	raw, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pin := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)

	room := "browser-wss"
	var data mediaData
	h.run(t, runConfig{
		Scenario: "media",
		SFUURL:   "wss://" + srv.Addr().String(),
		Tokens: map[string]string{"A": mintToken(t, sfu.DevAPIKey, sfu.DevAPISecret, room, "A"),
			"B": mintToken(t, sfu.DevAPIKey, sfu.DevAPISecret, room, "B")},
		MinFrames: 30,
		WaitMs:    20_000,
		TimeoutMs: 45_000,
		ExtraArgs: []string{"--ignore-certificate-errors-spki-list=" + base64.StdEncoding.EncodeToString(pin[:])},
	}, &data)
	checkMedia(t, data)
}
