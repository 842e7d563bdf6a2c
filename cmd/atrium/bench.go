package main

import (
	"context"
	"errors"
)

// runBench is not implemented yet; its owner replaces this file.
func runBench(_ context.Context, _ []string) error {
	return errors.New("not implemented yet")
}
