package turn

import (
	"errors"
	"sync"
)

// ErrUserQuota and ErrTotalQuota say why an allocation was refused; clients see 486
// (Allocation Quota Reached, RFC 8656 §7.2 step 7).
var (
	ErrUserQuota  = errors.New("turn: allocations per user quota reached")
	ErrTotalQuota = errors.New("turn: total allocations quota reached")
)

// quotas counts live allocations per user and in total. check answers pion's quota question
// (486 when full) without taking anything; the slot itself is taken by reserve when the relay
// socket is created and given back when it closes, so a request that fails between the two
// (pion refuses LIFETIME 0 there, for one) cannot leak a slot. Safe for concurrent use.
type quotas struct {
	perUser, total int // limits; 0 = unlimited

	mu      sync.Mutex
	byUser  map[string]int
	current int
}

func newQuotas(perUser, total int) *quotas {
	return &quotas{perUser: perUser, total: total, byUser: make(map[string]int)}
}

// check says which quota, if any, is full for user, without taking a slot.
func (q *quotas) check(user string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.full(user)
}

func (q *quotas) full(user string) error {
	if q.total > 0 && q.current >= q.total {
		return ErrTotalQuota
	}
	if q.perUser > 0 && q.byUser[user] >= q.perUser {
		return ErrUserQuota
	}
	return nil
}

// reserve takes one slot for user or says which quota is full.
func (q *quotas) reserve(user string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.full(user); err != nil {
		return err
	}
	q.byUser[user]++
	q.current++
	return nil
}

// release returns a slot taken by reserve. Releasing more than was reserved is a bug in the
// caller; it is ignored rather than corrupting the counts.
func (q *quotas) release(user string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.byUser[user]
	if n == 0 {
		return
	}
	if n == 1 {
		delete(q.byUser, user)
	} else {
		q.byUser[user] = n - 1
	}
	q.current--
}

// count returns the allocations held by user and in total.
func (q *quotas) count(user string) (userCount, total int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.byUser[user], q.current
}
