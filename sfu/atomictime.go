package sfu

import (
	"sync/atomic"
	"time"
)

// atomicTime is a time.Time safe for concurrent Load and Store.
type atomicTime struct{ ns atomic.Int64 }

func (a *atomicTime) Store(t time.Time) { a.ns.Store(t.UnixNano()) }
func (a *atomicTime) Load() time.Time   { return time.Unix(0, a.ns.Load()) }
