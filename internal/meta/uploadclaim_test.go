package meta

import (
	"context"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// TestUploadClaim: one writer at a time; a claim ends when released or
// when it expires; the session is returned as claimed.
func TestUploadClaim(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		repo := must1[Repo](t)(q.EnsureRepo(ctx, "p/claims"))
		must(t, q.CreateUpload(ctx, Upload{ID: "u1", RepoID: repo.ID, Algorithm: "sha256"}))
		must(t, q.AdvanceUpload(ctx, "u1", 0, 7, []byte("state")))
		t0 := at(0)

		u := must1[Upload](t)(q.ClaimUpload(ctx, "u1", "w1", t0, t0.Add(time.Minute)))
		if u.Offset != 7 || string(u.HashState) != "state" {
			t.Fatalf("claimed session %+v", u)
		}
		_, err := q.ClaimUpload(ctx, "u1", "w2", t0.Add(time.Second), t0.Add(time.Minute))
		wantKind(t, err, errs.Conflict)
		// The holder may claim again (a retried statement).
		must1[Upload](t)(q.ClaimUpload(ctx, "u1", "w1", t0, t0.Add(time.Minute)))

		// Renewed, then expired: another writer takes it.
		if ok := must1[bool](t)(q.RenewUploadClaim(ctx, "u1", "w1", t0.Add(2*time.Minute))); !ok {
			t.Fatal("holder could not renew")
		}
		_, err = q.ClaimUpload(ctx, "u1", "w2", t0.Add(90*time.Second), t0.Add(3*time.Minute))
		wantKind(t, err, errs.Conflict)
		must1[Upload](t)(q.ClaimUpload(ctx, "u1", "w2", t0.Add(3*time.Minute), t0.Add(4*time.Minute)))
		if ok := must1[bool](t)(q.RenewUploadClaim(ctx, "u1", "w1", t0.Add(5*time.Minute))); ok {
			t.Fatal("a writer whose claim was taken renewed it")
		}

		// Released by its holder only.
		must(t, q.ReleaseUploadClaim(ctx, "u1", "w1"))
		_, err = q.ClaimUpload(ctx, "u1", "w3", t0.Add(3*time.Minute), t0.Add(4*time.Minute))
		wantKind(t, err, errs.Conflict)
		must(t, q.ReleaseUploadClaim(ctx, "u1", "w2"))
		must1[Upload](t)(q.ClaimUpload(ctx, "u1", "w3", t0.Add(3*time.Minute), t0.Add(4*time.Minute)))

		_, err = q.ClaimUpload(ctx, "gone", "w1", t0, t0.Add(time.Minute))
		wantKind(t, err, errs.NotFound)
	})
}
