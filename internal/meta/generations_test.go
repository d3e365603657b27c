package meta

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/internal/errs"
)

// The identity generation moves after a committed change to a user, and
// inside a transaction only when the transaction ends, so a cache that
// read it before the rows never keeps a row older than the change.
func TestIdentityGeneration(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		u := mkUser(t, db.Q(), "alice")
		g0 := db.IdentityGeneration()
		u.Disabled = true
		if err := db.Q().UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		g1 := db.IdentityGeneration()
		if g1 == g0 {
			t.Fatal("UpdateUser did not move the identity generation")
		}
		err := db.Tx(ctx, func(q *Q) error {
			u.Disabled = false
			if err := q.UpdateUser(ctx, u); err != nil {
				return err
			}
			if g := db.IdentityGeneration(); g != g1 {
				t.Errorf("generation moved to %d before the commit", g)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		g2 := db.IdentityGeneration()
		if g2 == g1 {
			t.Fatal("a committed transaction did not move the identity generation")
		}
		if err := db.Q().DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if db.IdentityGeneration() == g2 {
			t.Fatal("DeleteUser did not move the identity generation")
		}
	})
}

// CachedProjectByName sees a project change made through the same DB at
// once, and a deleted project is gone.
func TestCachedProjectByName(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		owner := mkUser(t, q, "owner")
		p, err := q.CreateProject(ctx, Project{Name: "lib", OwnerID: owner.ID, StorageLimit: -1}, roleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		got, err := q.CachedProjectByName(ctx, "lib")
		if err != nil || got.Metadata["enable_content_trust"] != "" {
			t.Fatalf("first read: %+v, %v", got.Metadata, err)
		}
		got.Metadata["enable_content_trust"] = "mine" // a caller's copy
		p.Metadata = map[string]string{"prevent_vul": "true"}
		if err := q.UpdateProject(ctx, p); err != nil {
			t.Fatal(err)
		}
		got, err = q.CachedProjectByName(ctx, "lib")
		if err != nil || got.Metadata["prevent_vul"] != "true" || got.Metadata["enable_content_trust"] != "" {
			t.Fatalf("after the update: %+v, %v", got.Metadata, err)
		}
		g := db.IdentityGeneration()
		if err := q.DeleteProject(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if db.IdentityGeneration() == g {
			t.Fatal("DeleteProject (which deletes its robots) did not move the identity generation")
		}
		if _, err := q.CachedProjectByName(ctx, "lib"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("deleted project: %v", err)
		}
	})
}
