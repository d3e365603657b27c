package auth_test

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/meta"
)

// A token's principal is cached for a few seconds, but a change on this
// node ends access at once: a disabled or deleted user's token and a
// deleted robot's token are refused on the very next request, however
// often the token was used just before; re-enabling works at once too.
func TestPrincipalCacheInvalidation(t *testing.T) {
	both(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		s.project("ci", false)
		admin, _ := s.token("admin", adminPassword, "repository:ci/app:pull,push")
		if st := s.push(admin, "ci/app", "v1"); st != 201 {
			t.Fatalf("push: %d", st)
		}
		s.user("dev", "ci", access.RoleDeveloper)
		tok, _ := s.token("dev", "Passw0rd!", "repository:ci/app:pull")
		pull := func(tok string) int {
			t.Helper()
			return s.do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", "Bearer "+tok).status
		}
		for range 3 { // warm the cache
			if st := pull(tok); st != 200 {
				t.Fatalf("pull: %d", st)
			}
		}
		u, err := s.db.Q().GetUserByName(ctx, "dev")
		if err != nil {
			t.Fatal(err)
		}
		u.Disabled = true
		if err := s.db.Q().UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if st := pull(tok); st != 401 {
			t.Fatalf("disabled user's token: %d, want 401", st)
		}
		// Re-enabled inside a transaction: seen once it commits.
		err = s.db.Tx(ctx, func(q *meta.Q) error {
			u.Disabled = false
			return q.UpdateUser(ctx, u)
		})
		if err != nil {
			t.Fatal(err)
		}
		if st := pull(tok); st != 200 {
			t.Fatalf("re-enabled user's token: %d, want 200", st)
		}
		if err := s.db.Q().DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if st := pull(tok); st != 401 {
			t.Fatalf("deleted user's token: %d, want 401", st)
		}

		hash, _ := access.HashSecret("Robot1234secret")
		perms := `[{"kind":"project","namespace":"ci","access":[{"resource":"repository","action":"pull"}]}]`
		p, _ := s.db.Q().GetProjectByName(ctx, "ci")
		rb, err := s.db.Q().CreateRobot(ctx, meta.Robot{Name: "ci+puller", Level: meta.RobotProject, ProjectID: p.ID,
			SecretHash: hash, Duration: -1, ExpiresAt: -1, Permissions: []byte(perms)})
		if err != nil {
			t.Fatal(err)
		}
		rtok, _ := s.token("robot$ci+puller", "Robot1234secret", "repository:ci/app:pull")
		for range 3 {
			if st := pull(rtok); st != 200 {
				t.Fatalf("robot pull: %d", st)
			}
		}
		if err := s.db.Q().DeleteRobot(ctx, rb.ID); err != nil {
			t.Fatal(err)
		}
		if st := pull(rtok); st != 401 {
			t.Fatalf("deleted robot's token: %d, want 401", st)
		}
	})
}
