package meta

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/internal/errs"
)

// TestTrustKeys: keys are per project, unique by type and name, listed in
// order, deleted one by one and with their project.
func TestTrustKeys(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		u := mkUser(t, q, "owner")
		p := mkProject(t, q, "signed", u, false)
		other := mkProject(t, q, "other", u, false)
		k1, err := q.AddTrustKey(ctx, TrustKey{ProjectID: p.ID, Type: TrustNotation, Name: "corp", PEM: "pem1", Fingerprint: "SHA256:1"})
		if err != nil {
			t.Fatal(err)
		}
		k2, err := q.AddTrustKey(ctx, TrustKey{ProjectID: p.ID, Type: TrustCosign, Name: "release", PEM: "pem2", Fingerprint: "SHA256:2"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.AddTrustKey(ctx, TrustKey{ProjectID: p.ID, Type: TrustCosign, Name: "release", PEM: "x"}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("duplicate name: %v, want conflict", err)
		}
		if _, err := q.AddTrustKey(ctx, TrustKey{ProjectID: p.ID, Type: "gpg", Name: "x", PEM: "x"}); !errs.Is(err, errs.Invalid) {
			t.Fatalf("unknown type: %v, want invalid", err)
		}
		if _, err := q.AddTrustKey(ctx, TrustKey{ProjectID: 99999, Type: TrustCosign, Name: "x", PEM: "x"}); !errs.Is(err, errs.NotFound) {
			t.Fatalf("missing project: %v, want not found", err)
		}
		if _, err := q.AddTrustKey(ctx, TrustKey{ProjectID: other.ID, Type: TrustCosign, Name: "release", PEM: "pem3"}); err != nil {
			t.Fatalf("same name in another project: %v", err)
		}
		ks, err := q.ListTrustKeys(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) != 2 || ks[0].ID != k2.ID || ks[1].ID != k1.ID || ks[0].PEM != "pem2" || ks[0].Fingerprint != "SHA256:2" || ks[0].CreatedAt.IsZero() {
			t.Fatalf("list = %+v", ks)
		}
		if _, err := q.GetTrustKey(ctx, other.ID, k1.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("get through another project: %v", err)
		}
		if err := q.DeleteTrustKey(ctx, p.ID, k1.ID); err != nil {
			t.Fatal(err)
		}
		if err := q.DeleteTrustKey(ctx, p.ID, k1.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if err := q.DeleteProject(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		if ks, _ := q.ListTrustKeys(ctx, other.ID); len(ks) != 0 {
			t.Fatalf("keys outlived their project: %+v", ks)
		}
	})
}
