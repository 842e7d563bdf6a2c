package turn

import (
	"errors"
	"sync"
	"testing"
)

func TestQuotas(t *testing.T) {
	q := newQuotas(2, 3)
	steps := []struct {
		op   string // "+" reserve, "-" release
		user string
		want error
	}{
		{"+", "a", nil}, {"+", "a", nil}, {"+", "a", ErrUserQuota},
		{"+", "b", nil}, {"+", "c", ErrTotalQuota},
		{"-", "a", nil}, {"+", "c", nil},
		{"-", "zed", nil}, // releasing what was never reserved changes nothing
		{"+", "d", ErrTotalQuota},
	}
	for i, s := range steps {
		if s.op == "-" {
			q.release(s.user)
			continue
		}
		if err := q.reserve(s.user); !errors.Is(err, s.want) {
			t.Fatalf("step %d: reserve(%q) = %v, want %v", i, s.user, err, s.want)
		}
	}
	if a, total := q.count("a"); a != 1 || total != 3 {
		t.Fatalf("count(a) = %d, %d; want 1, 3", a, total)
	}
}

func TestQuotasConcurrent(t *testing.T) {
	q := newQuotas(0, 100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for i := 0; i < 400; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if q.reserve("u") == nil {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if _, total := q.count("u"); granted != 100 || total != 100 {
		t.Fatalf("granted %d, total %d; want exactly the limit 100", granted, total)
	}
}
