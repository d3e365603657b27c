package api_test

import (
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/http/api"
)

// TestSessionLoginCSRFAndLogout drives a UI session the way a browser
// does: cookies from the jar, the CSRF token copied into a header.
func TestSessionLoginCSRFAndLogout(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		do := func(method, path, body string, hdr ...string) (*http.Response, string) {
			req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			b.ReadFrom(res.Body)
			res.Body.Close()
			return res, b.String()
		}
		// A wrong password starts no session.
		if res, _ := do("POST", "/c/login", `{"principal":"admin","password":"nope"}`); res.StatusCode != 401 {
			t.Fatalf("bad login: %d", res.StatusCode)
		}
		res, body := do("POST", "/c/login", `{"principal":"admin","password":"`+adminPassword+`"}`)
		csrf := res.Header.Get(api.CSRFHeader)
		if res.StatusCode != 200 || csrf == "" || !strings.Contains(body, `"username":"admin"`) {
			t.Fatalf("login: %d %q %s", res.StatusCode, csrf, body)
		}
		var session *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == api.SessionCookie {
				session = c
			}
		}
		if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
			t.Fatalf("session cookie %+v", session)
		}
		// Only a hash of the token is stored.
		if n := e.count("SELECT count(*) FROM sessions WHERE token_hash = ?", session.Value); n != 0 {
			t.Fatal("the session token is stored in clear")
		}
		if n := e.count("SELECT count(*) FROM sessions"); n != 1 {
			t.Fatalf("%d sessions", n)
		}
		if res, body := do("GET", "/api/v2.0/users/current", ""); res.StatusCode != 200 || !strings.Contains(body, `"username":"admin"`) {
			t.Fatalf("current user by cookie: %d %s", res.StatusCode, body)
		}
		// An unsafe request by cookie needs the CSRF header.
		create := `{"project_name":"fromui","metadata":{"public":"false"}}`
		if res, body := do("POST", "/api/v2.0/projects", create); res.StatusCode != 403 || !strings.Contains(body, "CSRF") {
			t.Fatalf("POST without CSRF: %d %s", res.StatusCode, body)
		}
		if res, _ := do("POST", "/api/v2.0/projects", create, api.CSRFHeader, "wrong"); res.StatusCode != 403 {
			t.Fatalf("POST with a wrong CSRF token: %d", res.StatusCode)
		}
		if e.count("SELECT count(*) FROM projects WHERE name = 'fromui'") != 0 {
			t.Fatal("a refused request created the project")
		}
		if res, body := do("POST", "/api/v2.0/projects", create, api.CSRFHeader, csrf); res.StatusCode != 201 {
			t.Fatalf("POST with CSRF: %d %s", res.StatusCode, body)
		}
		// Logging out ends the session server-side.
		if res, _ := do("GET", "/c/log_out", ""); res.StatusCode != 200 {
			t.Fatalf("logout: %d", res.StatusCode)
		}
		if n := e.count("SELECT count(*) FROM sessions"); n != 0 {
			t.Fatalf("%d sessions after logout", n)
		}
		// Replaying the old cookie does not work either.
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/v2.0/users/current", nil)
		req.AddCookie(session)
		r2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r2.Body.Close()
		if r2.StatusCode != 401 {
			t.Fatalf("old session cookie: %d", r2.StatusCode)
		}
	})
}

func TestRobotsCannotSignInToTheUI(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		r := e.do(e.as("admin"), "POST", "/robots", map[string]any{
			"name": "uibot", "level": "system", "duration": -1,
			"permissions": []map[string]any{{"kind": "system", "namespace": "/",
				"access": []map[string]string{{"resource": "project", "action": "list"}}}},
		})
		want(t, r, 201, "create robot")
		var created struct {
			Name, Secret string
		}
		decodeInto(t, r, &created)
		res, err := http.Post(e.srv.URL+"/c/login", "application/json",
			strings.NewReader(`{"principal":"`+created.Name+`","password":"`+created.Secret+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 403 || e.count("SELECT count(*) FROM sessions") != 0 {
			t.Fatalf("robot UI login: %d", res.StatusCode)
		}
	})
}
