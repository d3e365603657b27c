package meta

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// Users and sessions. Projects and members are in projects_test.go,
// robots and the audit log in robots_test.go, q/sort/paging in
// listing_test.go.

// mkUser creates a user called name with an email derived from it.
func mkUser(t testing.TB, q *Q, name string) User {
	t.Helper()
	return must1[User](t)(q.CreateUser(context.Background(), User{Username: name, Email: name + "@example.com"}))
}

func TestUsersCRUD(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()

		before := now()
		alice := must1[User](t)(q.CreateUser(ctx, User{
			Username: "Alice", Email: "Alice@Example.com", Realname: "Alice A.", Comment: "first",
			PasswordHash: "$pbkdf2$x", SysAdmin: true,
		}))
		if alice.ID <= 0 || alice.CreatedAt.Before(before) || !alice.UpdatedAt.Equal(alice.CreatedAt) {
			t.Fatalf("CreateUser returned id %d, times %v/%v", alice.ID, alice.CreatedAt, alice.UpdatedAt)
		}
		diff(t, "created user", User{
			ID: alice.ID, Username: "Alice", Email: "Alice@Example.com", Realname: "Alice A.", Comment: "first",
			PasswordHash: "$pbkdf2$x", SysAdmin: true, CreatedAt: alice.CreatedAt, UpdatedAt: alice.CreatedAt,
		}, alice)
		diff(t, "GetUser", alice, must1[User](t)(q.GetUser(ctx, alice.ID)))
		for _, name := range []string{"Alice", "alice", "ALICE"} {
			diff(t, "GetUserByName "+name, alice, must1[User](t)(q.GetUserByName(ctx, name)))
		}

		// Usernames collide in any case, emails too; empty emails do not.
		_, err := q.CreateUser(ctx, User{Username: "aLiCe"})
		wantKind(t, err, errs.Conflict)
		_, err = q.CreateUser(ctx, User{Username: "other", Email: "alice@EXAMPLE.com"})
		wantKind(t, err, errs.Conflict)
		_, err = q.CreateUser(ctx, User{})
		wantKind(t, err, errs.Invalid)
		bob := must1[User](t)(q.CreateUser(ctx, User{Username: "bob"}))
		carol := must1[User](t)(q.CreateUser(ctx, User{Username: "carol"}))
		diff(t, "users", 3, count(t, db, `SELECT count(*) FROM users`))

		_, err = q.GetUser(ctx, 9999)
		wantKind(t, err, errs.NotFound)
		_, err = q.GetUserByName(ctx, "nobody")
		wantKind(t, err, errs.NotFound)

		// Update: every mutable field; the username stays.
		upd := alice
		upd.Username = "renamed"
		upd.Email, upd.Realname, upd.Comment, upd.PasswordHash = "new@example.com", "A", "", "$new"
		upd.SysAdmin, upd.Disabled = false, true
		must(t, q.UpdateUser(ctx, upd))
		got := must1[User](t)(q.GetUser(ctx, alice.ID))
		if got.UpdatedAt.Before(alice.UpdatedAt) {
			t.Errorf("UpdatedAt went back: %v -> %v", alice.UpdatedAt, got.UpdatedAt)
		}
		upd.Username, upd.UpdatedAt = "Alice", got.UpdatedAt
		diff(t, "updated user", upd, got)
		// The old address is free again, the new one taken.
		must(t, q.UpdateUser(ctx, User{ID: bob.ID, Email: "alice@example.com"}))
		wantKind(t, q.UpdateUser(ctx, User{ID: carol.ID, Email: "NEW@example.com"}), errs.Conflict)
		wantKind(t, q.UpdateUser(ctx, User{ID: 9999}), errs.NotFound)

		diff(t, "CountUsers(0)", 3, must1[int](t)(q.CountUsers(ctx, 0)))
		diff(t, "CountUsers(alice)", 2, must1[int](t)(q.CountUsers(ctx, alice.ID)))
	})
}

func TestDeleteUserCascades(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		owner := mkUser(t, q, "owner")
		dev := mkUser(t, q, "dev")
		p1 := must1[Project](t)(q.CreateProject(ctx, Project{Name: "p1", OwnerID: owner.ID}, 1))
		p2 := must1[Project](t)(q.CreateProject(ctx, Project{Name: "p2", OwnerID: dev.ID}, 1))
		must1[Member](t)(q.AddMember(ctx, Member{ProjectID: p1.ID, EntityType: MemberUser, EntityID: dev.ID, RoleID: 2}))
		must1[Member](t)(q.AddMember(ctx, Member{ProjectID: p2.ID, EntityType: MemberUser, EntityID: owner.ID, RoleID: 3}))
		exp := time.Now().Add(time.Hour)
		must(t, q.CreateSession(ctx, Session{TokenHash: "dev-1", UserID: dev.ID, ExpiresAt: exp}))
		must(t, q.CreateSession(ctx, Session{TokenHash: "dev-2", UserID: dev.ID, ExpiresAt: exp}))
		must(t, q.CreateSession(ctx, Session{TokenHash: "owner-1", UserID: owner.ID, ExpiresAt: exp}))

		must(t, q.DeleteUser(ctx, dev.ID))
		_, err := q.GetUser(ctx, dev.ID)
		wantKind(t, err, errs.NotFound)
		diff(t, "dev's roles", map[int64]int{}, must1[map[int64]int](t)(q.UserRoles(ctx, dev.ID)))
		diff(t, "owner's roles", map[int64]int{p1.ID: 1, p2.ID: 3}, must1[map[int64]int](t)(q.UserRoles(ctx, owner.ID)))
		diff(t, "sessions left", 1, count(t, db, `SELECT count(*) FROM sessions`))
		must1[Session](t)(q.GetSession(ctx, "owner-1"))
		// The project dev owned stays, with its owner id.
		diff(t, "p2 owner", dev.ID, must1[Project](t)(q.GetProject(ctx, p2.ID)).OwnerID)
		diff(t, "members of p2", 1, count(t, db, `SELECT count(*) FROM project_members WHERE project_id = ?`, p2.ID))

		wantKind(t, q.DeleteUser(ctx, dev.ID), errs.NotFound)
		diff(t, "users", 1, count(t, db, `SELECT count(*) FROM users`))
	})
}

// TestCreateUserRace has writers race to create one name in different
// letter cases: exactly one wins, the others get Conflict.
func TestCreateUserRace(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		names := []string{"dave", "Dave", "DAVE", "dAVE", "daVe", "DaVe", "davE", "DAve"}
		errc := make([]error, len(names))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errc[i] = db.Q().CreateUser(ctx, User{Username: name})
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errc {
			if err == nil {
				won++
				continue
			}
			if !errs.Is(err, errs.Conflict) {
				t.Errorf("CreateUser(%s) = %v, want nil or Conflict", names[i], err)
			}
		}
		diff(t, "winners", 1, won)
		diff(t, "users", 1, count(t, db, `SELECT count(*) FROM users`))
	})
}

func TestSessions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		u := mkUser(t, q, "u")
		future := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
		past := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)

		s := Session{TokenHash: "h1", UserID: u.ID, CSRFToken: "csrf", CreatedAt: at(1), ExpiresAt: future}
		must(t, q.CreateSession(ctx, s))
		want := s
		want.CreatedAt = normTime(at(1))
		diff(t, "GetSession", want, must1[Session](t)(q.GetSession(ctx, "h1")))

		// A zero creation time means now.
		before := now()
		must(t, q.CreateSession(ctx, Session{TokenHash: "h2", UserID: u.ID, ExpiresAt: future}))
		if got := must1[Session](t)(q.GetSession(ctx, "h2")); got.CreatedAt.Before(before) {
			t.Errorf("CreatedAt = %v, want now (>= %v)", got.CreatedAt, before)
		}

		wantKind(t, q.CreateSession(ctx, Session{TokenHash: "h1", UserID: u.ID, ExpiresAt: future}), errs.Conflict)
		wantKind(t, q.CreateSession(ctx, Session{TokenHash: "hx", UserID: 9999, ExpiresAt: future}), errs.NotFound)
		wantKind(t, q.CreateSession(ctx, Session{TokenHash: "", UserID: u.ID, ExpiresAt: future}), errs.Invalid)
		wantKind(t, q.CreateSession(ctx, Session{TokenHash: "hy", UserID: u.ID}), errs.Invalid)

		// Expired sessions are not found, but exist until swept.
		must(t, q.CreateSession(ctx, Session{TokenHash: "old", UserID: u.ID, ExpiresAt: past}))
		_, err := q.GetSession(ctx, "old")
		wantKind(t, err, errs.NotFound)
		_, err = q.GetSession(ctx, "missing")
		wantKind(t, err, errs.NotFound)
		diff(t, "sessions", 3, count(t, db, `SELECT count(*) FROM sessions`))
		diff(t, "swept", int64(1), must1[int64](t)(q.DeleteExpiredSessions(ctx, time.Now())))
		diff(t, "swept again", int64(0), must1[int64](t)(q.DeleteExpiredSessions(ctx, time.Now())))
		diff(t, "sessions", 2, count(t, db, `SELECT count(*) FROM sessions`))

		must(t, q.DeleteSession(ctx, "h1"))
		_, err = q.GetSession(ctx, "h1")
		wantKind(t, err, errs.NotFound)
		wantKind(t, q.DeleteSession(ctx, "h1"), errs.NotFound)

		other := mkUser(t, q, "other")
		for i := range 3 {
			must(t, q.CreateSession(ctx, Session{TokenHash: fmt.Sprintf("o%d", i), UserID: other.ID, ExpiresAt: future}))
		}
		must(t, q.DeleteUserSessions(ctx, other.ID))
		must(t, q.DeleteUserSessions(ctx, other.ID)) // none left is fine
		diff(t, "sessions of other", 0, count(t, db, `SELECT count(*) FROM sessions WHERE user_id = ?`, other.ID))
		must1[Session](t)(q.GetSession(ctx, "h2"))
		diff(t, "swept as of the future", int64(1), must1[int64](t)(q.DeleteExpiredSessions(ctx, future)))
		diff(t, "sessions", 0, count(t, db, `SELECT count(*) FROM sessions`))
	})
}
