package main

import (
	"context"
	"errors"
)

// runDev is not implemented yet; its owner replaces this file.
func runDev(_ context.Context, _ []string) error {
	return errors.New("not implemented yet")
}
