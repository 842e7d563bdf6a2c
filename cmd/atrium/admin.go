package main

import (
	"context"
	"errors"
)

// runAdmin is not implemented yet; its owner replaces this file.
func runAdmin(_ context.Context, _ []string) error {
	return errors.New("not implemented yet")
}
