package access

import (
	"sync"
	"time"
)

// PrincipalCacheTTL bounds how long a registry token's principal is
// reused without reading its user or robot row again. A change made on
// this node (disable, delete, password, sysadmin flag, group membership,
// robot permissions) takes effect at once: it moves the store's identity
// generation, which every cached entry is checked against. A change made
// on another node of a cluster takes effect here within this time.
const PrincipalCacheTTL = 5 * time.Second

// principalCacheMax bounds the entries; past it the cache is emptied.
const principalCacheMax = 10000

type principalKey struct {
	kind string // "user" or "robot"
	id   int64
}

type principalEntry struct {
	p   Principal
	gen uint64    // identity generation read before the row
	exp time.Time // entry expiry (never after a robot's own expiry)
}

// principalCache remembers the principals behind registry tokens.
// Principals are shared between requests and must not be modified.
type principalCache struct {
	mu sync.RWMutex
	m  map[principalKey]principalEntry
}

func (c *principalCache) get(k principalKey, gen uint64, now time.Time) (Principal, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || e.gen != gen || !now.Before(e.exp) {
		return Principal{}, false
	}
	return e.p, true
}

func (c *principalCache) put(k principalKey, e principalEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= principalCacheMax {
		c.m = make(map[principalKey]principalEntry)
	}
	c.m[k] = e
}
