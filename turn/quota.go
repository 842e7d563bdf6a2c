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

// quotas counts live allocations per user and in total. A slot is reserved when pion asks
// whether an Allocate may proceed and released when the relay socket of the allocation closes
// (or at once, if creating the socket fails). Safe for concurrent use.
type quotas struct {
	perUser, total int // limits; 0 = unlimited

	mu      sync.Mutex
	byUser  map[string]int
	current int
}

func newQuotas(perUser, total int) *quotas {
	return &quotas{perUser: perUser, total: total, byUser: make(map[string]int)}
}

// reserve takes one slot for user or says which quota is full.
func (q *quotas) reserve(user string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.total > 0 && q.current >= q.total {
		return ErrTotalQuota
	}
	if q.perUser > 0 && q.byUser[user] >= q.perUser {
		return ErrUserQuota
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
