package recorder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/atrium-live/atrium/pkg/egress"
)

// maxAttempts is how many failed runs a job gets before it is marked failed.
const maxAttempts = 3

// runJobs claims open jobs from the store (at most MaxRecordings at a time) and records
// each while its lease holds. On shutdown it abandons what it records without releasing the
// leases, exactly as a crash would: another recorder continues each job once its lease
// expires, after a discontinuity.
func (s *Server) runJobs(ctx context.Context, jobs *egress.Store) error {
	var mu sync.Mutex
	running := map[string]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		ids, err := jobs.Open(ctx)
		if err != nil {
			s.log.Warn("job store", "err", err)
			continue
		}
		for _, id := range ids {
			mu.Lock()
			busy := running[id] || len(running) >= s.cfg.MaxRecordings
			mu.Unlock()
			if busy {
				continue
			}
			ok, err := jobs.Claim(ctx, id, s.id, s.cfg.LeaseTTL)
			if err != nil || !ok {
				continue
			}
			mu.Lock()
			running[id] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { mu.Lock(); delete(running, id); mu.Unlock() }()
				s.handleJob(ctx, jobs, id)
			}()
		}
	}
}

// handleJob records one claimed job: it keeps the lease alive, turns the store's ending
// state into a graceful stop, continues after the segments a dead predecessor stored, and
// reports the gap a takeover leaves.
func (s *Server) handleJob(ctx context.Context, jobs *egress.Store, id string) {
	log := s.log.With("recording", id)
	j, err := jobs.Get(ctx, id)
	if err != nil {
		log.Warn("claimed job unreadable", "err", err)
		_ = jobs.Release(context.WithoutCancel(ctx), id, s.id)
		return
	}
	if j.State == egress.StateComplete || j.State == egress.StateFailed {
		_ = jobs.Release(context.WithoutCancel(ctx), id, s.id)
		return
	}
	raws, err := jobs.Segments(ctx, id)
	if err != nil {
		log.Warn("job segments unreadable", "err", err)
		_ = jobs.Release(context.WithoutCancel(ctx), id, s.id)
		return
	}
	prior := make([]Segment, 0, len(raws))
	for _, r := range raws {
		var sg Segment
		if err := json.Unmarshal(r, &sg); err != nil {
			log.Error("stored segment unreadable; failing the job", "err", err)
			s.failJob(ctx, jobs, id, fmt.Errorf("stored segment: %w", err))
			return
		}
		prior = append(prior, sg)
	}
	takeover := len(prior) > 0
	lastAt := j.LastSegmentAt
	j, err = jobs.Update(ctx, id, func(j *egress.Job) error {
		if j.State == egress.StateStarting {
			j.State = egress.StateActive
		}
		if j.StartedAt == 0 {
			j.StartedAt = time.Now().UnixNano()
		}
		if takeover && j.Holder != s.id {
			j.Takeovers++
		}
		j.Holder = s.id
		return nil
	})
	if err != nil {
		log.Warn("job update", "err", err)
		_ = jobs.Release(context.WithoutCancel(ctx), id, s.id)
		return
	}
	if takeover {
		s.m.takeovers.Inc()
		log.Warn("taking over a recording", "after_seq", prior[len(prior)-1].Seq)
	}

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	stopOnce := sync.OnceFunc(func() { close(stop) })
	if j.State == egress.StateEnding {
		stopOnce()
	}
	keeperDone := make(chan struct{})
	go func() {
		defer close(keeperDone)
		s.keepLease(lctx, jobs, id, cancel, stopOnce)
	}()
	first := true
	onSegment := func(sg Segment) {
		raw, _ := json.Marshal(sg)
		if err := jobs.AppendSegment(lctx, id, raw, sg.Duration, sg.Bytes); err != nil {
			log.Warn("job store: segment not recorded", "seq", sg.Seq, "err", err)
		}
		if first && takeover && lastAt > 0 {
			// The new epoch's first media began one segment before it was stored; the
			// predecessor's last stored segment ended about when it was stored.
			gap := time.Since(time.Unix(0, lastAt)).Seconds() - sg.Duration
			gap = max(gap, 0)
			s.m.gapSeconds.Add(gap)
			_, _ = jobs.Update(lctx, id, func(j *egress.Job) error {
				j.Gaps = append(j.Gaps, egress.Gap{AfterSeq: sg.Seq - 1, Seconds: gap})
				return nil
			})
			log.Warn("recording gap", "after_seq", sg.Seq-1, "seconds", gap)
		}
		first = false
	}
	s.m.active.Inc()
	if !takeover && j.Takeovers == 0 && j.Attempts == 0 {
		s.notify(ctx, egress.EventStarted, j)
	} else {
		s.notify(ctx, egress.EventUpdated, j)
	}
	res, err := s.runEpoch(lctx, epoch{job: Job{ID: j.ID, Room: j.Room, KeyPrefix: j.KeyPrefix,
		Teacher: j.Teacher, VideoTrack: j.VideoTrack, AudioTrack: j.AudioTrack, PlaylistName: j.PlaylistName},
		prior: prior, stop: stop, onSegment: onSegment})
	s.m.active.Dec()
	cancel()
	<-keeperDone
	switch {
	case res.finished:
		dctx := context.WithoutCancel(ctx)
		done, uerr := jobs.Update(dctx, id, func(j *egress.Job) error {
			j.State = egress.StateComplete
			j.EndedAt = time.Now().UnixNano()
			return nil
		})
		if uerr != nil {
			log.Error("job not marked complete", "err", uerr)
		} else {
			s.notify(dctx, egress.EventEnded, done)
		}
		_ = jobs.Release(dctx, id, s.id)
	case ctx.Err() != nil:
		// Shutting down (or killed): leave the lease to expire; a peer takes over.
	case lctx.Err() != nil && errors.Is(err, context.Canceled):
		log.Warn("lease lost; another recorder continues", "err", err)
	default:
		log.Error("recording run failed", "err", err)
		dctx := context.WithoutCancel(ctx)
		j, uerr := jobs.Update(dctx, id, func(j *egress.Job) error {
			j.Attempts++
			j.Error = err.Error()
			if j.Attempts >= maxAttempts {
				j.State = egress.StateFailed
				j.EndedAt = time.Now().UnixNano()
			}
			return nil
		})
		if uerr == nil && j.State == egress.StateFailed {
			log.Error("recording failed for good", "attempts", j.Attempts)
			s.notify(dctx, egress.EventEnded, j)
		}
		_ = jobs.Release(dctx, id, s.id)
	}
}

// keepLease renews the lease every LeaseTTL/3 and watches the job's state: ending → stop;
// a lost lease → cancel (another recorder holds the job now).
func (s *Server) keepLease(ctx context.Context, jobs *egress.Store, id string, cancel context.CancelFunc, stop func()) {
	t := time.NewTicker(s.cfg.LeaseTTL / 3)
	defer t.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := jobs.Renew(ctx, id, s.id, s.cfg.LeaseTTL)
		switch {
		case err != nil && time.Since(lastOK) < s.cfg.LeaseTTL:
			s.log.Warn("lease renewal failed; retrying", "recording", id, "err", err)
			continue
		case err != nil || !ok:
			s.log.Warn("lease lost", "recording", id, "err", err)
			cancel()
			return
		}
		lastOK = time.Now()
		if j, err := jobs.Get(ctx, id); err == nil && j.State == egress.StateEnding {
			stop()
		}
	}
}

func (s *Server) failJob(ctx context.Context, jobs *egress.Store, id string, cause error) {
	dctx := context.WithoutCancel(ctx)
	j, err := jobs.Update(dctx, id, func(j *egress.Job) error {
		j.State = egress.StateFailed
		j.Error = cause.Error()
		j.EndedAt = time.Now().UnixNano()
		return nil
	})
	if err == nil {
		s.notify(dctx, egress.EventEnded, j)
	}
	_ = jobs.Release(dctx, id, s.id)
}

// notify sends an egress webhook; failures are logged by the notifier, never fatal.
func (s *Server) notify(ctx context.Context, event string, j egress.Job) {
	if err := s.hooks.Notify(ctx, event, egress.Info(j, s.cfg.S3.Bucket)); err != nil {
		s.log.Warn("egress webhook not delivered", "event", event, "recording", j.ID, "err", err)
	}
}
