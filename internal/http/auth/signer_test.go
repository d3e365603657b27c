package auth_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/http/auth"
)

// TestMayPushAndScannerPull: push rights come from policy whatever the
// token's scope; scanner-pull only from a token that grants it; no
// credentials, bad credentials and pull-only members get neither.
func TestMayPushAndScannerPull(t *testing.T) {
	both(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		s.project("p", false)
		s.user("dev", "p", access.RoleDeveloper)
		s.user("guest", "p", access.RoleGuest)
		reg := auth.NewRegistry(auth.New(s.acc, "", slog.New(slog.NewTextHandler(io.Discard, nil))))

		token := func(name string, actions ...string) string {
			t.Helper()
			u, err := s.db.Q().GetUserByName(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			tok, _, err := s.acc.IssueFor(access.UserPrincipal(u), auth.Service,
				[]access.ResourceActions{{Type: "repository", Name: "p/app", Actions: actions}})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		cases := []struct {
			name          string
			basic         [2]string
			bearer        string
			push, scanner bool
		}{
			{"anonymous", [2]string{}, "", false, false},
			{"developer, basic", [2]string{"dev", "Passw0rd!"}, "", true, false},
			{"developer, wrong password", [2]string{"dev", "nope"}, "", false, false},
			{"developer, pull-only token", [2]string{}, token("dev", "pull"), true, false},
			{"guest, pull-only token", [2]string{}, token("guest", "pull"), false, false},
			{"guest, basic", [2]string{"guest", "Passw0rd!"}, "", false, false},
			{"scanner-pull token", [2]string{}, token("guest", "pull", "scanner-pull"), false, true},
			{"garbage token", [2]string{}, "not.a.token", false, false},
		}
		for _, c := range cases {
			r := httptest.NewRequest("GET", "/v2/p/app/manifests/v1", nil)
			if c.basic[0] != "" {
				r.SetBasicAuth(c.basic[0], c.basic[1])
			}
			if c.bearer != "" {
				r.Header.Set("Authorization", "Bearer "+c.bearer)
			}
			if got := reg.MayPush(r, "p/app"); got != c.push {
				t.Errorf("%s: MayPush = %v", c.name, got)
			}
			if got := reg.ScannerPull(r, "p/app"); got != c.scanner {
				t.Errorf("%s: ScannerPull = %v", c.name, got)
			}
			if reg.ScannerPull(r, "p/other") {
				t.Errorf("%s: ScannerPull on another repository", c.name)
			}
		}
	})
}
