package main

import (
	"context"
	"errors"
)

// runTURN is not implemented yet; its owner replaces this file.
func runTURN(_ context.Context, _ []string) error {
	return errors.New("not implemented yet")
}
