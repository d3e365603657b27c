package access

import (
	"sync"
	"time"
)

// limiter slows down repeated failed logins per source address and per
// account: after freeFailures failures within the window each further
// attempt waits longer, doubling up to maxDelay, beyond which it is refused
// outright. A success for the pair clears the account's count.
type limiter struct {
	mu   sync.Mutex
	now  func() time.Time
	byID map[string]*failures
}

type failures struct {
	count int
	last  time.Time
}

const (
	freeFailures = 5
	failWindow   = 15 * time.Minute
	baseDelay    = 250 * time.Millisecond
	maxDelay     = 4 * time.Second
)

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, byID: make(map[string]*failures)}
}

// delay is how long the next attempt from source for account must wait; a
// value above maxDelay means refuse.
func (l *limiter) delay(source, account string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := max(l.count("s:"+source), l.count("a:"+account))
	if n < freeFailures {
		return 0
	}
	d := baseDelay << min(n-freeFailures, 8)
	return d
}

func (l *limiter) count(k string) int {
	f := l.byID[k]
	if f == nil {
		return 0
	}
	if l.now().Sub(f.last) > failWindow {
		delete(l.byID, k)
		return 0
	}
	return f.count
}

func (l *limiter) fail(source, account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.byID) > 100000 {
		for k, f := range l.byID {
			if now.Sub(f.last) > failWindow {
				delete(l.byID, k)
			}
		}
	}
	for _, k := range []string{"s:" + source, "a:" + account} {
		f := l.byID[k]
		if f == nil || now.Sub(f.last) > failWindow {
			f = &failures{}
			l.byID[k] = f
		}
		f.count++
		f.last = now
	}
}

func (l *limiter) succeed(source, account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byID, "a:"+account)
	delete(l.byID, "s:"+source)
}
