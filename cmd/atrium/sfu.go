package main

import (
	"context"
	"errors"
)

// runSFU is not implemented yet; its owner replaces this file.
func runSFU(_ context.Context, _ []string) error {
	return errors.New("not implemented yet")
}
