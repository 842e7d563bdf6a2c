package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/accounts"
	"github.com/atrium-live/atrium/controlplane/problem"
)

// runAdmin dispatches administrative tasks: `admin create-user`.
func runAdmin(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create-user" {
		fmt.Fprintln(os.Stderr, "usage: atrium admin create-user --email E --password P [--name N] [--role admin|teacher|student] [--config FILE]")
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("admin create-user", flag.ContinueOnError)
	path := fs.String("config", "", "control plane YAML config file")
	email := fs.String("email", "", "email address (required)")
	password := fs.String("password", "", "password (required; or set ATRIUM_ADMIN_PASSWORD to keep it out of shell history)")
	name := fs.String("name", "Administrator", "display name")
	role := fs.String("role", accounts.RoleAdmin, "admin, teacher or student")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *password == "" {
		*password = os.Getenv("ATRIUM_ADMIN_PASSWORD")
	}
	if *email == "" || *password == "" {
		return errors.New("--email and --password are required")
	}
	cfg, log, err := loadControlPlane(*path)
	if err != nil {
		return err
	}
	cfg.Jobs.Disabled = true // enqueue only; the running control plane delivers
	srv, err := controlplane.New(ctx, cfg, controlplane.Deps{Log: log})
	if err != nil {
		return err
	}
	defer srv.Close()
	u, err := srv.Accounts.CreateUser(ctx, "", accounts.CreateUserInput{Email: *email, Password: *password, Name: *name,
		Role: *role, Verified: true})
	if err != nil {
		if pe, ok := problem.As(err); ok {
			if len(pe.Fields) > 0 {
				return fmt.Errorf("%s: %v", pe.Message, pe.Fields)
			}
			return errors.New(pe.Message)
		}
		return err
	}
	fmt.Printf("created %s %s (%s)\n", u.Role, u.Email, u.ID)
	return nil
}
