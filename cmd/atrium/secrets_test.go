package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/secrets"
)

// Random-looking secrets of production length, made for these tests only.
const (
	testSecretA = "Zr8qM2vK7xN4pT9wL1sB6hD3fJ0gYc5E"
	testSecretB = "hT4nW9qZ2vB7xK1mR6pL3sD8fJ0gYc5A"
	testSecretC = "pL3sD8fJ0gYc5AhT4nW9qZ2vB7xK1mR6"
	testSecretD = "whsec_9qZ2vB7xK1mR6pL3sD8fJ0gYc5AhT4nW"
	testSecretE = "sk_live_K1mR6pL3sD8fJ0gYc5AhT4nW9qZ2vB7x"
)

// runRole runs one role's command in-process until it serves 200 on healthURL (then stops it
// and returns nil) or returns by itself (its error).
func runRole(t *testing.T, run func(context.Context, []string) error, args []string, healthURL string) error {
	t.Helper()
	return runRoleCheck(t, run, args, healthURL, http.DefaultClient, nil)
}

// runRoleCheck is runRole with the client to poll with and a check run while the role serves.
func runRoleCheck(t *testing.T, run func(context.Context, []string) error, args []string, healthURL string, client *http.Client, check func()) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, args) }()
	deadline := time.After(60 * time.Second)
	var lastErr error
	for {
		select {
		case err := <-done:
			if err == nil {
				return errors.New("returned nil before serving")
			}
			return err
		case <-deadline:
			t.Fatalf("%s not healthy within 60 s (last error: %v)", healthURL, lastErr)
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := client.Get(healthURL)
		if err != nil {
			lastErr = err
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			if check != nil {
				check()
			}
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("stopping: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("did not stop within 30 s of cancel")
			}
			return nil
		}
	}
}

func sampleConfig(name string) string { return filepath.Join("..", "..", "config", name) }

func writeSecret(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantUnsafe(t *testing.T, err error, names ...string) {
	t.Helper()
	if !errors.Is(err, secrets.ErrUnsafe) {
		t.Fatalf("start on the sample config = %v, want a refusal (secrets.ErrUnsafe)", err)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("refusal does not name %q:\n%v", n, err)
		}
	}
}

// TestControlPlaneRefusesDevSecrets starts `atrium controlplane` on the committed sample
// config: it must refuse, naming every development secret; with real secrets (one of them
// from a mounted file) the same config serves.
func TestControlPlaneRefusesDevSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the control plane on PostgreSQL and Redis")
	}
	err := runControlPlane(context.Background(), []string{"--config", sampleConfig("controlplane.yaml")})
	wantUnsafe(t, err, "auth.jwt_secret", "ATRIUM_AUTH_JWT_SECRET_FILE", "auth.totp_key", "livekit.api_secret",
		"money.stripe.secret_key", "money.stripe.webhook_secret")
	if strings.Contains(err.Error(), "dev-only") {
		t.Errorf("refusal leaks a secret value:\n%v", err)
	}

	dbURL, prefix := freshDatabase(t)
	addr := freeAddr(t, "tcp")
	for k, v := range map[string]string{
		"ATRIUM_HTTP_ADDR": addr, "ATRIUM_DATABASE_URL": dbURL, "ATRIUM_DATABASE_AUTO_MIGRATE": "true",
		"ATRIUM_REDIS_KEY_PREFIX": prefix, "ATRIUM_JOBS_DISABLED": "true",
		"ATRIUM_AUTH_JWT_SECRET_FILE": writeSecret(t, testSecretA), "ATRIUM_AUTH_TOTP_KEY": testSecretB,
		"ATRIUM_LIVEKIT_API_SECRET": testSecretC, "ATRIUM_MONEY_STRIPE_SECRET_KEY": testSecretE,
		"ATRIUM_MONEY_STRIPE_WEBHOOK_SECRET": testSecretD,
	} {
		t.Setenv(k, v)
	}
	if err := runRole(t, runControlPlane, []string{"--config", sampleConfig("controlplane.yaml")}, "http://"+addr+"/healthz"); err != nil {
		t.Fatalf("control plane with real secrets: %v", err)
	}
	// --dev accepts the committed secrets (what `atrium dev` relies on).
	t.Setenv("ATRIUM_AUTH_TOTP_KEY", "dev-only-totp-key-change-me-0123456789abcd")
	if err := runRole(t, runControlPlane, []string{"--dev", "--config", sampleConfig("controlplane.yaml")}, "http://"+addr+"/healthz"); err != nil {
		t.Fatalf("control plane --dev: %v", err)
	}
}

// TestSFURefusesDevSecrets does the same for `atrium sfu` and config/sfu.yaml, whose key file
// is absent here and whose TURN secret is a committed placeholder.
func TestSFURefusesDevSecrets(t *testing.T) {
	err := runSFU(context.Background(), []string{"--config", sampleConfig("sfu.yaml")})
	wantUnsafe(t, err, "key_file", "ATRIUM_SFU_KEY_FILE", "turn.secret", "ATRIUM_SFU_TURN_SECRET_FILE",
		"cluster.secret_key is empty", "ATRIUM_SFU_CLUSTER_SECRET_KEY_FILE")

	// A key file holding LiveKit's dev pair is refused too, naming the key.
	devKeys := writeSecret(t, "APIatrium1: secret")
	t.Setenv("ATRIUM_SFU_KEY_FILE", devKeys)
	err = runSFU(context.Background(), []string{"--config", sampleConfig("sfu.yaml")})
	wantUnsafe(t, err, "keys[APIatrium1] is the development value", "turn.secret")

	addr := freeAddr(t, "tcp")
	for k, v := range map[string]string{
		"ATRIUM_SFU_KEY_FILE": writeSecret(t, "APIatrium1: "+testSecretA), "ATRIUM_SFU_TURN_SECRET_FILE": writeSecret(t, testSecretB),
		"ATRIUM_SFU_HTTP_ADDR": addr, "ATRIUM_SFU_RTC_UDP_ADDR": "127.0.0.1:0", "ATRIUM_SFU_RTC_TCP_ADDR": "127.0.0.1:0",
		"ATRIUM_SFU_DRAIN_TIMEOUT": "2s",
		// The sample runs in a cluster: gossip on loopback, no seeds, leases in the local Redis.
		"ATRIUM_SFU_CLUSTER_SECRET_KEY_FILE": writeSecret(t, base64.StdEncoding.EncodeToString([]byte(testSecretC))),
		"ATRIUM_SFU_CLUSTER_BIND_ADDR":       "127.0.0.1:0", "ATRIUM_SFU_CLUSTER_SEED_DNS": "",
		"ATRIUM_SFU_PLACEMENT_REDIS_ADDR": "127.0.0.1:6379",
		"ATRIUM_SFU_PLACEMENT_KEY_PREFIX": fmt.Sprintf("atrium:secretstest:%d:", time.Now().UnixNano()),
	} {
		t.Setenv(k, v)
	}
	if err := runRole(t, runSFU, []string{"--config", sampleConfig("sfu.yaml")}, "http://"+addr+"/healthz"); err != nil {
		t.Fatalf("sfu with real secrets: %v", err)
	}
}

// TestTURNRefusesMissingSecret: `atrium turn` has no dev mode; the sample leaves the secret
// to the environment.
func TestTURNRefusesMissingSecret(t *testing.T) {
	err := runTURN(context.Background(), []string{"--config", sampleConfig("turn.yaml")})
	wantUnsafe(t, err, "auth.secret is empty", "ATRIUM_TURN_AUTH_SECRET_FILE")
	t.Setenv("ATRIUM_TURN_AUTH_SECRET", "change-me-shared-with-atrium-turn")
	err = runTURN(context.Background(), []string{"--config", sampleConfig("turn.yaml")})
	wantUnsafe(t, err, "auth.secret is the development value")

	addr, udp := freeAddr(t, "tcp"), freeAddr(t, "udp")
	for k, v := range map[string]string{
		"ATRIUM_TURN_AUTH_SECRET": testSecretA, "ATRIUM_TURN_HTTP": addr, "ATRIUM_TURN_LISTEN_UDP": udp,
		"ATRIUM_TURN_LISTEN_TCP": strings.Replace(udp, "udp", "tcp", 1), "ATRIUM_TURN_RELAY_ADDRESS": "127.0.0.1",
		"ATRIUM_TURN_RELAY_EXTERNAL_IP": "127.0.0.1", "ATRIUM_TURN_DRAIN_TIMEOUT": "1s",
	} {
		t.Setenv(k, v)
	}
	if err := runRole(t, runTURN, []string{"--config", sampleConfig("turn.yaml")}, "http://"+addr+"/healthz"); err != nil {
		t.Fatalf("turn with a real secret: %v", err)
	}
}

// freshDatabase creates an empty database dropped after the test, and a Redis key prefix of
// the same unique name.
func freshDatabase(t *testing.T) (dbURL, redisPrefix string) {
	t.Helper()
	dbName := fmt.Sprintf("atrium_cmdtest_%d", time.Now().UnixNano())
	pgURL := os.Getenv("ATRIUM_TEST_DATABASE_URL")
	if pgURL == "" {
		pgURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	dbURL = strings.Replace(pgURL, "/postgres?", "/"+dbName+"?", 1)
	if err := ensureDatabase(context.Background(), dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropDatabase(t, pgURL, dbName) })
	return dbURL, dbName + ":"
}

// TestSignalRefusesDevSecrets: the gateway refuses LiveKit's dev key outside dev mode and
// starts with a real one.
func TestSignalRefusesDevSecrets(t *testing.T) {
	t.Setenv("ATRIUM_SIGNAL_KEY_FILE", writeSecret(t, "devkey: secret"))
	t.Setenv("ATRIUM_SIGNAL_CLUSTER_ENABLED", "true")
	t.Setenv("ATRIUM_SIGNAL_CLUSTER_SECRET_KEY", "c2hvcnQ=")
	wantUnsafe(t, runSignal(context.Background(), nil), "keys[devkey] is the development value", "cluster.secret_key is 8 bytes", "ATRIUM_SIGNAL_CLUSTER_SECRET_KEY_FILE")

	addr := freeAddr(t, "tcp")
	t.Setenv("ATRIUM_SIGNAL_KEY_FILE", writeSecret(t, "APIatrium1: "+testSecretA))
	t.Setenv("ATRIUM_SIGNAL_CLUSTER_SECRET_KEY", base64.StdEncoding.EncodeToString([]byte(testSecretB)))
	t.Setenv("ATRIUM_SIGNAL_CLUSTER_BIND_ADDR", "127.0.0.1:0")
	t.Setenv("ATRIUM_SIGNAL_CLUSTER_PRESET", "local")
	t.Setenv("ATRIUM_SIGNAL_HTTP_ADDR", addr)
	t.Setenv("ATRIUM_SIGNAL_NODE_ID", "gw-test")
	if err := runRole(t, runSignal, []string{"--log-level", "warn"}, "http://"+addr+"/healthz"); err != nil {
		t.Fatalf("signal with a real key: %v", err)
	}
}
