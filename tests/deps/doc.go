// Package deps holds the module's dependency-direction test: one table says which of the
// module's packages each part of Atrium may import (DESIGN.md, "Where the pieces live").
package deps
