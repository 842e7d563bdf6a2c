package main

import (
	"context"
	"flag"
	"fmt"
	"os"
)

// runDev runs Atrium for a laptop on 127.0.0.1. For now that is the SFU in dev mode
// (http://127.0.0.1:7880, key devkey / secret); the control plane and TURN join it later.
func runDev(ctx context.Context, args []string) error {
	o := sfuOptions{Dev: true}
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, _, err := newSFU(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "atrium dev: SFU on ws://%s (API key %q); mint a token with: atrium token create --room demo --identity you\n",
		srv.Addr(), "devkey")
	return srv.Run(ctx)
}
