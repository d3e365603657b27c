package api_test

// Response validation against API documents: Harbor's own swagger
// (../shared/reference/harbor-swagger.yaml, Swagger 2.0, converted to
// OpenAPI 3 with kin-openapi) and berth's OpenAPI document
// (openapi/berth.yaml). Tests call ValidateAgainstHarbor and
// ValidateAgainstBerth with what they sent and got back.

import (
	"io"
	"net/http"
	"testing"

	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/testutil/apidoc"
)

// ValidateAgainstHarbor checks one response of berth's API against
// Harbor's swagger: the operation (method and path, relative to
// /api/v2.0, query allowed) must exist there, the status must be one it
// documents, and the body must match the schema it gives, with no object
// key the schema does not define.
func ValidateAgainstHarbor(t testing.TB, method, path string, status int, header http.Header, body []byte) {
	t.Helper()
	apidoc.Harbor(t).Validate(t, method, path, status, header, body)
}

// ValidateAgainstBerth does the same against berth's own document.
func ValidateAgainstBerth(t testing.TB, method, path string, status int, header http.Header, body []byte) {
	t.Helper()
	apidoc.Berth(t, api.OpenAPIYAML()).Validate(t, method, path, status, header, body)
}

// validateBoth validates r against both documents.
func validateBoth(t testing.TB, method, path string, r apiResp) {
	t.Helper()
	ValidateAgainstHarbor(t, method, path, r.status, r.header, r.body)
	ValidateAgainstBerth(t, method, path, r.status, r.header, r.body)
}

// readAll is io.ReadAll for tests that hold a response.
func readAll(t testing.TB, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExistingEndpointsMatchHarbor validates a handful of endpoints built
// before the validator against Harbor's swagger and berth's document.
func TestExistingEndpointsMatchHarbor(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		admin := e.as("admin")
		want(t, e.do(admin, "POST", "/robots", map[string]any{
			"name": "ci", "level": "system", "duration": 30,
			"permissions": []any{map[string]any{"kind": "project", "namespace": "priv",
				"access": []any{map[string]string{"resource": "repository", "action": "pull"}}}},
		}), 201, "create robot")
		for _, c := range []struct {
			who, path string
		}{
			{"admin", "/users/current"},
			{"developer", "/users/current"},
			{"admin", "/projects"},
			{"developer", "/projects?page=1&page_size=1"},
			{"anonymous", "/projects"},
			{"admin", "/projects/" + id(e.priv.ID)},
			{"admin", "/projects/" + id(e.priv.ID) + "/summary"},
			{"admin", "/robots"},
			{"admin", "/users"},
			{"admin", "/systeminfo"},
			{"anonymous", "/systeminfo"},
			{"anonymous", "/users/current"},
			{"guest", "/users"},
		} {
			r := e.do(e.as(c.who), "GET", c.path, nil)
			if r.status >= 500 {
				t.Fatalf("GET %s as %s: %s", c.path, c.who, r)
			}
			validateBoth(t, "GET", c.path, r)
		}
	})
}
