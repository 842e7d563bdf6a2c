package main

import (
	"context"
	"errors"
)

// runToken is not implemented yet; its owner replaces this file.
func runToken(_ context.Context, _ []string) error {
	return errors.New("not implemented yet")
}
