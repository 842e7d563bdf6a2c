package main

import (
	"context"
	"errors"
)

// runControlPlane is not implemented yet; its owner replaces this file.
func runControlPlane(_ context.Context, _ []string) error {
	return errors.New("not implemented yet")
}
