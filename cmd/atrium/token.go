package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/livekit/protocol/auth"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/sfu"
)

// runToken implements `atrium token create`: it mints a LiveKit access token signed with
// the configured API key (or the dev key), printed on stdout.
func runToken(_ context.Context, args []string) error {
	tok, err := tokenCreate(args, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

// tokenCreate parses `token create` arguments and returns the token; notes go to stderr.
func tokenCreate(args []string, stderr io.Writer) (string, error) {
	if len(args) == 0 || args[0] != "create" {
		return "", errors.New("usage: atrium token create --room R --identity I [--publish=false] [--ttl 6h]")
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	var (
		room      = fs.String("room", "", "room name (required)")
		identity  = fs.String("identity", "", "participant identity (required)")
		name      = fs.String("name", "", "display name")
		metadata  = fs.String("metadata", "", "participant metadata")
		publish   = fs.Bool("publish", true, "grant canPublish")
		subscribe = fs.Bool("subscribe", true, "grant canSubscribe")
		data      = fs.Bool("data", true, "grant canPublishData")
		hidden    = fs.Bool("hidden", false, "hidden participant (not announced to others)")
		admin     = fs.Bool("admin", false, "grant roomAdmin")
		operator  = fs.Bool("operator", false, "an operator's token (roomCreate, roomList; no room): drain nodes, read /admin/cluster, list rooms")
		ttl       = fs.Duration("ttl", 6*time.Hour, "validity")
		apiKey    = fs.String("api-key", "", "API key (default: from --config, else the dev key)")
		apiSecret = fs.String("api-secret", "", "API secret matching --api-key")
		o         sfuOptions
	)
	o.register(fs)
	fs.SetOutput(stderr)
	if err := fs.Parse(args[1:]); err != nil {
		return "", err
	}
	if *identity == "" || (*room == "" && !*operator) {
		return "", errors.New("--identity and, unless --operator, --room are required")
	}
	if *ttl <= 0 {
		return "", errors.New("--ttl must be positive")
	}
	key, secret := *apiKey, *apiSecret
	if key == "" {
		if o.ConfigPath == "" && !o.Dev {
			o.Dev = true
			fmt.Fprintln(stderr, "atrium token: no --config or --api-key, signing with the dev key devkey")
		}
		cfg, err := loadSFUConfig(o)
		if err != nil {
			return "", err
		}
		key, secret = sfu.SigningKey(cfg)
	}
	if secret == "" {
		return "", fmt.Errorf("no secret for API key %q", key)
	}
	if *operator {
		g := &auth.VideoGrant{RoomCreate: true, RoomList: true}
		return access.NewToken{APIKey: key, APISecret: secret, Identity: *identity, TTL: *ttl, Grant: g}.Mint()
	}
	g := &auth.VideoGrant{RoomJoin: true, Room: *room, Hidden: *hidden, RoomAdmin: *admin}
	g.SetCanPublish(*publish)
	g.SetCanSubscribe(*subscribe)
	g.SetCanPublishData(*data)
	return access.NewToken{APIKey: key, APISecret: secret, Room: *room, Identity: *identity,
		Name: *name, Metadata: *metadata, TTL: *ttl, Grant: g}.Mint()
}
