// Package drills runs the backup and crash drills of docs/backup.md in `make test`: a
// PostgreSQL point-in-time restore (scripts/backup-drill.sh) and a Redis kill -9. Both print
// their RPO/RTO figures.
package drills

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// TestPITRDrill runs scripts/backup-drill.sh: base backup + archived WAL restored to a second
// local cluster at a restore point, row counts and a zero ledger sum checked.
func TestPITRDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two PostgreSQL clusters")
	}
	cmd := exec.Command("../../scripts/backup-drill.sh")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("backup drill: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "BACKUP_DRILL ") {
			t.Log(line)
			fmt.Println("PITR drill:", strings.TrimPrefix(line, "BACKUP_DRILL "))
			return
		}
	}
	t.Fatalf("backup drill printed no timings:\n%s", out)
}
