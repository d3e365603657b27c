package registry

import (
	"fmt"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/signature"
)

// TestSigCache: entries come back until they expire, a different trust
// set misses, and the cache stays bounded.
func TestSigCache(t *testing.T) {
	c := newSigCache()
	now := time.Now()
	cand := signature.Candidate{Digest: "sha256:aa", Tag: "x", Created: now}
	key := cacheKey(cand, trustKey(signature.Trust{}))
	other := cacheKey(cand, trustKey(signature.Trust{CosignKeys: []signature.Key{{Name: "k", Fingerprint: "SHA256:1"}}}))
	c.put(key, []signature.Signature{{Kind: signature.KindSignature}}, now)
	if got, ok := c.get(key, now.Add(time.Minute)); !ok || len(got) != 1 {
		t.Fatalf("get = %v %v", got, ok)
	}
	if _, ok := c.get(other, now); ok {
		t.Fatal("another trust set hit the cache")
	}
	if _, ok := c.get(key, now.Add(c.ttl+time.Second)); ok {
		t.Fatal("an expired entry came back")
	}
	for i := range 3 * c.max {
		c.put(fmt.Sprint(i), nil, now)
	}
	if n := len(c.entries); n > c.max {
		t.Fatalf("%d entries, more than %d", n, c.max)
	}
}
