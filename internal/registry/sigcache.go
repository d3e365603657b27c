package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/signature"
)

// sigCache remembers what inspecting a signature candidate gave, so that
// pulls under content trust do not read and verify the same signature
// blobs every time. Manifests and blobs are immutable by digest, so the
// key is the candidate (digest, tag, creation time) and the set of
// trusted keys; entries expire after a while because verification
// depends on the clock (expiry, certificate validity). Per node, bounded;
// a miss only costs a verification.
type sigCache struct {
	mu      sync.Mutex
	entries map[string]sigCacheEntry
	ttl     time.Duration
	max     int
}

type sigCacheEntry struct {
	sigs    []signature.Signature
	expires time.Time
}

func newSigCache() *sigCache {
	return &sigCache{entries: map[string]sigCacheEntry{}, ttl: 5 * time.Minute, max: 4096}
}

// trustKey identifies a set of trusted keys and roots.
func trustKey(t signature.Trust) string {
	var b strings.Builder
	for _, k := range t.CosignKeys {
		b.WriteString(k.Name + "=" + k.Fingerprint + ";")
	}
	b.WriteString("|")
	for _, r := range t.NotationRoots {
		b.WriteString(r.Name + "=" + r.Fingerprint + ";")
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

func cacheKey(c signature.Candidate, trust string) string {
	return string(c.Digest) + "|" + c.Tag + "|" + c.Created.UTC().Format(time.RFC3339Nano) + "|" + trust
}

func (c *sigCache) get(key string, now time.Time) ([]signature.Signature, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || now.After(e.expires) {
		return nil, false
	}
	return e.sigs, true
}

func (c *sigCache) put(key string, sigs []signature.Signature, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Drop the expired, then (still full) an arbitrary half: simple
		// and bounded; the cache only saves work.
		n := 0
		for k, e := range c.entries {
			if now.After(e.expires) || n%2 == 0 {
				delete(c.entries, k)
			}
			n++
		}
	}
	c.entries[key] = sigCacheEntry{sigs: sigs, expires: now.Add(c.ttl)}
}
