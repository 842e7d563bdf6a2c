// Command atrium is the single Atrium binary; each role is a subcommand (see DESIGN.md §1).
//
// Only this package may parse flags, hold flag state or call os.Exit. Each subcommand lives
// in its own file as func(ctx, args) error and wires its service by hand.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/atrium-live/atrium/pkg/version"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"version":      {"print Atrium's version", runVersion},
		"dev":          {"run the whole platform in one process on 127.0.0.1", runDev},
		"sfu":          {"run one SFU media node", runSFU},
		"signal":       {"run the stateless signal gateway (routes /rtc to the room's node)", runSignal},
		"token":        {"mint LiveKit access tokens (token create ...)", runToken},
		"turn":         {"run the TURN relay", runTURN},
		"controlplane": {"run the control plane API and web UI", runControlPlane},
		"migrate":      {"apply control-plane database migrations", runMigrate},
		"backup":       {"archive PostgreSQL WAL and base backups to S3 (backup wal-push ...)", runBackup},
		"admin":        {"administrative tasks (admin create-user ...)", runAdmin},
		"bench":        {"load-test any LiveKit-compatible server", runBench},
		"recorder":     {"record rooms to HLS in S3-compatible storage", runRecorder},
	}
}

func main() {
	cmds := commands()
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage(cmds)
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "atrium: unknown command %q\n\n", os.Args[1])
		usage(cmds)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "atrium %s: %v\n", os.Args[1], err)
		stop()
		os.Exit(1)
	}
}

func usage(cmds map[string]command) {
	fmt.Fprintf(os.Stderr, "atrium %s: live-video learning platform\n\nUsage: atrium <command> [flags]\n\nCommands:\n", version.Version)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-13s %s\n", n, cmds[n].summary)
	}
}

func runVersion(_ context.Context, _ []string) error {
	fmt.Println("atrium", version.Version)
	return nil
}
