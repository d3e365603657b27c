package api_test

import (
	"net/http"
	"testing"
)

// Scripts get a Basic challenge on 401; the web UI's requests, marked
// with X-Requested-With, do not (a browser would open a password prompt).
func TestUnauthorizedChallenge(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		r := e.do(anon, http.MethodGet, "/users/current", nil)
		wantErr(t, r, http.StatusUnauthorized, "", "anonymous GET /users/current")
		if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="berth"` {
			t.Fatalf("script: WWW-Authenticate %q", got)
		}
		r = e.do(anon, http.MethodGet, "/users/current", nil, "X-Requested-With", "XMLHttpRequest")
		wantErr(t, r, http.StatusUnauthorized, "", "UI GET /users/current")
		if got := r.header.Values("WWW-Authenticate"); len(got) != 0 {
			t.Fatalf("UI: WWW-Authenticate %q, want none", got)
		}
	})
}
