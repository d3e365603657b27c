package certs

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

func (s *syncBuffer) count(sub string) int { return strings.Count(s.String(), sub) }

// TestRenewalLease: two nodes with their own connection pools over one
// database find the server certificate due at the same moment; the lease
// lets exactly one of them make the new one, and both then serve it. A
// lease held elsewhere keeps a node from renewing until it is released.
func TestRenewalLease(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			dsn := st.dsn(t)
			t0 := time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC)
			clk := newClock(t0)
			var logs syncBuffer
			dbs := []*meta.DB{openStore(t, dsn), openStore(t, dsn)}
			var ms []*Manager
			for _, db := range dbs {
				ms = append(ms, start(t, NewManager(db.Q(), []string{"reg.example"}, WithClock(clk.now), fixedHosts("node"),
					WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))))
			}
			first := served(t, ms[0])
			if logs.count("replacing the server certificate") != 1 {
				t.Fatalf("start: %d replacements, want 1:\n%s", logs.count("replacing"), logs.String())
			}

			// Due for renewal on both nodes at once: one replaces it.
			for round := 0; round < 3; round++ {
				due := served(t, ms[0]).NotAfter.Add(-29 * 24 * time.Hour)
				clk.set(due)
				before := logs.count("replacing the server certificate")
				var wg sync.WaitGroup
				errc := make([]error, len(ms))
				for i, m := range ms {
					wg.Add(1)
					go func() { defer wg.Done(); errc[i] = m.Refresh(context.Background()) }()
				}
				wg.Wait()
				for i, err := range errc {
					if err != nil {
						t.Fatalf("round %d: node %d: %v", round, i, err)
					}
				}
				if n := logs.count("replacing the server certificate") - before; n != 1 {
					t.Fatalf("round %d: %d nodes replaced the certificate, want exactly 1:\n%s", round, n, logs.String())
				}
				a, b := served(t, ms[0]), served(t, ms[1])
				if Fingerprint(a) != Fingerprint(b) || Fingerprint(a) == Fingerprint(first) || !a.NotAfter.After(due) {
					t.Fatalf("round %d: nodes serve %s and %s (first %s)", round, Fingerprint(a), Fingerprint(b), Fingerprint(first))
				}
				if holder, _, err := dbs[0].Q().TLSLeaseHolder(context.Background()); err != nil || holder != "" {
					t.Fatalf("round %d: lease held by %q after the renewal (%v)", round, holder, err)
				}
			}

			// Another holder (a node in the middle of a renewal): a node
			// waits for it, keeps serving what it has, renews nothing.
			ctx := context.Background()
			q := dbs[0].Q()
			cur := served(t, ms[0])
			clk.set(cur.NotAfter.Add(-29 * 24 * time.Hour))
			if ok, err := q.AcquireTLSLease(ctx, "other-node", clk.now(), clk.now().Add(time.Hour)); err != nil || !ok {
				t.Fatalf("take the lease: %v %v", ok, err)
			}
			waiting := NewManager(dbs[1].Q(), []string{"reg.example"}, WithClock(clk.now), fixedHosts("node"),
				WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithLeaseWait(300*time.Millisecond))
			before := logs.count("replacing the server certificate")
			if err := waiting.Start(ctx); err == nil || !strings.Contains(err.Error(), "another node holds the renewal lease") {
				t.Fatalf("Start with the lease held elsewhere: %v", err)
			}
			if got := served(t, waiting); Fingerprint(got) != Fingerprint(cur) {
				t.Errorf("the waiting node serves %s, want the current %s", Fingerprint(got), Fingerprint(cur))
			}
			if n := logs.count("replacing the server certificate"); n != before {
				t.Errorf("a node renewed while another held the lease")
			}
			// Released: the next check renews.
			if err := q.ReleaseTLSLease(ctx, "other-node"); err != nil {
				t.Fatal(err)
			}
			if err := waiting.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if got := served(t, waiting); Fingerprint(got) == Fingerprint(cur) {
				t.Error("not renewed after the lease was released")
			}
		})
	}
}
