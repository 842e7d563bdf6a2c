package media

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// CloseEndedRooms closes the rooms of classes whose window closed (explicit End, or
// scheduled end plus the rejoin grace), whose money outcome is already decided (a no-show),
// or that were cancelled, and records each one closed, so the room of a finished class
// cannot be used on: the SFU disconnects everyone and reports their leaves, and every
// session still open afterwards is known to have been cut by a failure (docs/classes.md).
// A room that does not exist counts as closed. It returns how many rooms it closed; one
// failure does not stop the others.
func (s *Service) CloseEndedRooms(ctx context.Context) (int, error) {
	now := s.Now()
	ids, err := s.Store.ClassesToClose(ctx, now, s.cfg.Lifecycle.RejoinGrace, 100)
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, id := range ids {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.CloseRoom(cctx, id)
		cancel()
		if err == nil {
			err = s.Store.MarkRoomClosed(ctx, id, now)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("media: close room of class %s: %w", id, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// CloseRoomsArgs is the periodic River job that runs CloseEndedRooms.
type CloseRoomsArgs struct{}

// Kind implements river.JobArgs.
func (CloseRoomsArgs) Kind() string { return "classes.close_rooms" }

// InsertOpts keeps at most one run queued at a time; a failed run is retried by the next.
func (CloseRoomsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: 30 * time.Second}}
}

// CloseRoomsWorker runs CloseEndedRooms. Service may be set after the worker is registered.
type CloseRoomsWorker struct {
	river.WorkerDefaults[CloseRoomsArgs]
	Service *Service
}

// Timeout bounds one run.
func (w *CloseRoomsWorker) Timeout(*river.Job[CloseRoomsArgs]) time.Duration { return 2 * time.Minute }

// Work runs one pass. Failures are logged, not retried: the next periodic run retries them.
func (w *CloseRoomsWorker) Work(ctx context.Context, _ *river.Job[CloseRoomsArgs]) error {
	n, err := w.Service.CloseEndedRooms(ctx)
	if n > 0 {
		w.Service.Log.Info("closed the rooms of ended classes", "rooms", n)
	}
	if err != nil {
		w.Service.Log.Warn("could not close the rooms of some ended classes", "err", err)
	}
	return nil
}
