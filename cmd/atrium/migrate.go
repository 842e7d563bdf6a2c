package main

import (
	"context"
	"errors"
)

// runMigrate is not implemented yet; its owner replaces this file.
func runMigrate(_ context.Context, _ []string) error {
	return errors.New("not implemented yet")
}
