package access

import (
	"testing"
	"time"
)

func TestLimiterSlowsThenRefusesRepeatedFailures(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newLimiter(func() time.Time { return now })
	for i := 0; i < freeFailures; i++ {
		if d := l.delay("10.0.0.1", "alice"); d != 0 {
			t.Fatalf("failure %d already delayed %s", i, d)
		}
		l.fail("10.0.0.1", "alice")
	}
	// From here each attempt waits longer, then is refused outright.
	var last time.Duration
	refusedAt := -1
	for i := 0; i < 10; i++ {
		d := l.delay("10.0.0.1", "alice")
		if refusedAt < 0 && d <= last {
			t.Fatalf("attempt %d: delay %s did not grow from %s", i, d, last)
		}
		if d > maxDelay && refusedAt < 0 {
			refusedAt = i
		}
		last = d
		l.fail("10.0.0.1", "alice")
	}
	if refusedAt < 0 {
		t.Fatal("never refused")
	}
	// The same account from another address is slowed too (guessing one
	// account from many addresses), and another account from the same
	// address as well (guessing many accounts from one address).
	if l.delay("10.0.0.2", "alice") == 0 || l.delay("10.0.0.1", "bob") == 0 {
		t.Fatal("limit did not cover account and source separately")
	}
	if l.delay("10.0.0.2", "bob") != 0 {
		t.Fatal("an unrelated pair was slowed")
	}
	// Failures age out after the window.
	now = now.Add(failWindow + time.Second)
	if d := l.delay("10.0.0.1", "alice"); d != 0 {
		t.Fatalf("delay after the window: %s", d)
	}
}

func TestLimiterSuccessClears(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newLimiter(func() time.Time { return now })
	for i := 0; i < freeFailures+2; i++ {
		l.fail("10.0.0.1", "carol")
	}
	l.succeed("10.0.0.1", "carol")
	if d := l.delay("10.0.0.1", "carol"); d != 0 {
		t.Fatalf("delay after success: %s", d)
	}
}

func TestPasswordHashing(t *testing.T) {
	h1, err := HashSecret("Secret123")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashSecret("Secret123")
	if h1 == h2 {
		t.Fatal("two hashes of one secret are equal: no salt")
	}
	if !VerifySecret(h1, "Secret123") || VerifySecret(h1, "Secret124") || VerifySecret(h1, "") {
		t.Fatal("verification is wrong")
	}
	for _, bad := range []string{"", "plain", "pbkdf2_sha256$1$x$y", "md5$1$a$b", h1[:len(h1)-4]} {
		if VerifySecret(bad, "Secret123") {
			t.Fatalf("malformed hash %q matched", bad)
		}
	}
	for _, c := range []struct {
		pw string
		ok bool
	}{{"Secret123", true}, {"secret123", false}, {"SECRET123", false}, {"Secretabc", false}, {"Se1", false}, {string(make([]byte, 129)), false}} {
		if got := CheckPasswordPolicy(c.pw) == nil; got != c.ok {
			t.Fatalf("policy(%q) = %v", c.pw, got)
		}
	}
	s, err := NewSecret()
	if err != nil || len(s) != 32 || CheckPasswordPolicy(s) != nil {
		t.Fatalf("NewSecret %q %v", s, err)
	}
}
