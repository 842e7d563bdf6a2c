package controlplane_test

import (
	"os"
	"testing"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

func TestMain(m *testing.M) { os.Exit(cptest.Main(m)) }
