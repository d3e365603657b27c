package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileInputSSO, signatures and pull secrets: malformed JSON, wrong
// types, unknown fields, huge bodies, bad ids, bad PEM and callers without
// the right are each answered with a 4xx in Harbor's error body, and none
// of them changes a row.
func TestHostileInput(t *testing.T) {
	forEachStack(t, func(t *testing.T, e *apiEnv) {
		admin, dev, out := e.as("admin"), e.as("developer"), e.as("outsider")
		huge := `{"group_name":"` + strings.Repeat("a", 2<<20) + `"}`
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
		jsonStr := func(s string) string { return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"` }
		tk := "/projects/priv/trust-keys"
		art := "/projects/pub/repositories/app/artifacts/v1"
		e.pushImage(admin, "pub/app", "v1", []byte("layer"))

		r := e.do(e.as("pa"), "POST", "/robots", map[string]any{
			"name": "ci", "level": "project", "duration": -1,
			"permissions": []map[string]any{{"kind": "project", "namespace": "priv",
				"access": []map[string]string{{"resource": "repository", "action": "pull"}}}},
		})
		want(t, r, http.StatusCreated, "create robot")
		var robot struct{ ID int64 }
		decodeInto(t, r, &robot)
		rb := "/robots/" + id(robot.ID) + "/pullsecret"

		tables := []string{"user_groups", "user_group_members", "project_members", "user_identities", "trust_keys", "robots", "settings", "users", "audit_logs"}
		cases := []hostileCase{
			// User groups.
			{admin, "POST", "/usergroups", `{"group_name":`, 400},
			{admin, "POST", "/usergroups", `{"group_name":"g","group_type":"ldap"}`, 400},
			{admin, "POST", "/usergroups", `{"group_name":"g","group_type":1,"extra":true}`, 400},
			{admin, "POST", "/usergroups", `{"group_name":"g","group_type":99}`, 400},
			{admin, "POST", "/usergroups", `{"group_name":"g","group_type":-1}`, 400},
			{admin, "POST", "/usergroups", `{"group_name":"g\u0000","group_type":2}`, 400},
			{admin, "POST", "/usergroups", `{"group_name":"","group_type":2}`, 400},
			{admin, "POST", "/usergroups", `{"group_name":"` + strings.Repeat("g", 1000) + `","group_type":2}`, 400},
			{admin, "POST", "/usergroups", `{"group_name":"g","group_type":1,"ldap_group_dn":"not a dn ((("}`, 400},
			{admin, "POST", "/usergroups", huge, 413},
			{admin, "GET", "/usergroups/abc", "", 400},
			{admin, "GET", "/usergroups/-1", "", 400},
			{admin, "GET", "/usergroups/99999999999999999999", "", 400},
			{admin, "GET", "/usergroups/424242", "", 404},
			{admin, "PUT", "/usergroups/424242", `{"group_name":"x"}`, 404},
			{admin, "PUT", "/usergroups/1", `{"group_name":7}`, 400},
			{admin, "DELETE", "/usergroups/0", "", 400},
			{admin, "GET", "/usergroups?page=0", "", 400},
			{admin, "GET", "/usergroups/search?groupname=%00", "", 400},
			{dev, "POST", "/usergroups", `{"group_name":"g","group_type":2}`, 403},
			{dev, "DELETE", "/usergroups/1", "", 403},
			{anon, "POST", "/usergroups", `{"group_name":"g","group_type":2}`, 401},
			{anon, "GET", "/usergroups", "", 401},

			// Members that are groups.
			{admin, "POST", "/projects/priv/members", `{"role_id":2,"member_group":{"id":"one"}}`, 400},
			{admin, "POST", "/projects/priv/members", `{"role_id":2,"member_group":{"id":-3}}`, 400},
			{admin, "POST", "/projects/priv/members", `{"role_id":2,"member_group":{"id":424242}}`, 400},
			{admin, "POST", "/projects/priv/members", `{"role_id":2,"member_group":{"group_name":"x","group_type":99}}`, 400},
			{admin, "POST", "/projects/priv/members", `{"role_id":2,"member_group":{"group_name":"x\u0000","group_type":2}}`, 400},
			{admin, "POST", "/projects/priv/members", `{"role_id":2,"member_group":{"id":1,"evil":1}}`, 400},
			{dev, "POST", "/projects/priv/members", `{"role_id":1,"member_group":{"group_name":"g","group_type":2}}`, 403},
			{out, "POST", "/projects/priv/members", `{"role_id":1,"member_group":{"group_name":"g","group_type":2}}`, 403},
			{anon, "POST", "/projects/priv/members", `{"role_id":1,"member_group":{"group_name":"g","group_type":2}}`, 401},

			// CLI secrets.
			{admin, "PUT", "/users/abc/cli_secret", `{"secret":"Abcdefgh123"}`, 400},
			{admin, "PUT", "/users/-1/cli_secret", `{"secret":"Abcdefgh123"}`, 400},
			{admin, "PUT", "/users/424242/cli_secret", `{"secret":"Abcdefgh123"}`, 404},
			{admin, "PUT", "/users/2/cli_secret", `{"secret":12345678}`, 400},
			{admin, "PUT", "/users/2/cli_secret", `{"secret":"Abcdefgh123","x":1}`, 400},
			{admin, "PUT", "/users/2/cli_secret", `{"secret":"` + strings.Repeat("A1b", 1<<19) + `"}`, 413},
			{dev, "PUT", "/users/2/cli_secret", `{"secret":"Abcdefgh123"}`, 403},
			{dev, "DELETE", "/users/2/cli_secret", "", 403},
			{anon, "PUT", "/users/2/cli_secret", `{"secret":"Abcdefgh123"}`, 401},
			{anon, "DELETE", "/users/2/cli_secret", "", 401},

			// OIDC (not configured here: 404 for admins, refused for others).
			{admin, "POST", "/system/oidc/ping", `{"url":`, 404},
			{dev, "GET", "/system/oidc", "", 403},
			{anon, "GET", "/system/oidc", "", 401},
			{anon, "POST", "/system/oidc/ping", `{"url":"http://127.0.0.1:1"}`, 404},

			// Trust keys.
			{admin, "POST", tk, `{"type":"cosign","name":"k","pem":`, 400},
			{admin, "POST", tk, `{"type":"cosign","name":"k","pem":7}`, 400},
			{admin, "POST", tk, `{"type":"cosign","name":"k","pem":"junk"}`, 400},
			{admin, "POST", tk, `{"type":"cosign","name":"k","pem":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}`, 400},
			{admin, "POST", tk, `{"type":"cosign","name":"k","pem":` + jsonStr(privPEM) + `}`, 400},
			{admin, "POST", tk, `{"type":"cosign","name":"k","pem":` + jsonStr(pubPEM+pubPEM) + `}`, 400},
			{admin, "POST", tk, `{"type":"cosign","name":"k","pem":` + jsonStr("\u0000"+pubPEM) + `}`, 400},
			{admin, "POST", tk, `{"type":"cosign","name":"k","pem":` + jsonStr("junk before "+pubPEM) + `}`, 400},
			{admin, "POST", tk, `{"type":"gpg","name":"k","pem":` + jsonStr(pubPEM) + `}`, 400},
			{admin, "POST", tk, `{"type":"cosign","name":"","pem":` + jsonStr(pubPEM) + `}`, 400},
			{admin, "POST", tk, `{"type":"cosign","name":"k\u0000","pem":` + jsonStr(pubPEM) + `}`, 400},
			{admin, "POST", tk, `{"type":"cosign","name":"k","pem":` + jsonStr(pubPEM) + `,"id":5}`, 400},
			{admin, "POST", tk, `{"type":"notation","name":"k","pem":` + jsonStr(pubPEM) + `}`, 400},
			{admin, "POST", tk, `{"type":"cosign","name":"k","pem":"` + strings.Repeat("A", 2<<20) + `"}`, 413},
			{admin, "POST", "/projects/none/trust-keys", `{"type":"cosign","name":"k","pem":` + jsonStr(pubPEM) + `}`, 404},
			{admin, "GET", tk + "/abc", "", 400},
			{admin, "GET", tk + "/-4", "", 400},
			{admin, "GET", tk + "/424242", "", 404},
			{admin, "DELETE", tk + "/424242", "", 404},
			{dev, "POST", tk, `{"type":"cosign","name":"k","pem":` + jsonStr(pubPEM) + `}`, 403},
			{dev, "DELETE", tk + "/1", "", 403},
			{out, "GET", tk, "", 403},
			{anon, "GET", tk, "", 401},
			{anon, "POST", tk, `{"type":"cosign","name":"k","pem":` + jsonStr(pubPEM) + `}`, 401},

			// Signatures of an artifact.
			{admin, "GET", "/projects/pub/repositories/app/artifacts/sha256:zz/additions/signatures", "", 400},
			{admin, "GET", "/projects/pub/repositories/app/artifacts/nope/additions/signatures", "", 404},
			{admin, "GET", "/projects/pub/repositories/none/artifacts/v1/additions/signatures", "", 404},
			{admin, "GET", "/projects/pub/repositories/app/artifacts/%00/additions/signatures", "", 400},
			{admin, "GET", "/projects/pub/repositories/..%2F..%2Fpriv%2Fx/artifacts/v1/additions/signatures", "", 400},
			{out, "GET", "/projects/priv/repositories/app/artifacts/v1/additions/signatures", "", 403},
			{anon, "GET", "/projects/priv/repositories/app/artifacts/v1/additions/signatures", "", 401},
			{anon, "GET", art + "/additions/signatures", "", 200},

			// Pull secrets (of robot rb, made by pa).
			{admin, "POST", "/robots/abc/pullsecret", "", 400},
			{admin, "POST", "/robots/-1/pullsecret", "", 400},
			{admin, "POST", "/robots/99999999999999999999/pullsecret", "", 400},
			{admin, "POST", "/robots/424242/pullsecret", "", 404},
			{admin, "POST", rb + "?format=evil", "", 400},
			{admin, "POST", rb + "?format=%00", "", 400},
			{admin, "POST", rb, `{"namespace":"../.."}`, 400},
			{admin, "POST", rb, `{"namespace":"` + strings.Repeat("a", 64) + `"}`, 400},
			{admin, "POST", rb, `{"name":"a;b"}`, 400},
			{admin, "POST", rb, `{"namespace":"` + strings.Repeat("A", 100000) + `"}`, 400}, // not echoed whole
			{admin, "POST", rb, `{"name":"` + strings.Repeat("a", 254) + `"}`, 400},
			{admin, "POST", rb, `{"registry":"evil.example/x"}`, 400},
			{admin, "POST", rb, `{"registry":"evil.example\nX: y"}`, 400},
			{admin, "POST", rb, `{"namespace":7}`, 400},
			{admin, "POST", rb, `{"namespace":"ok","bogus":1}`, 400},
			{admin, "POST", rb, `{"namespace":"ok"` + strings.Repeat(" ", 2<<20) + `}`, 413},
			{dev, "POST", rb, "", 403},
			{out, "POST", rb, "", 403},
			{anon, "POST", rb, "", 401},
		}
		runHostile(t, e, tables, cases)
	})
}

type hostileCase struct {
	who          cred
	method, path string
	body         string
	status       int
}

// runHostile sends each case, checks its status and Harbor's error body,
// and that the tables' row counts did not change.
func runHostile(t *testing.T, e *apiEnv, tables []string, cases []hostileCase) {
	t.Helper()
	before := e.rowCounts(tables)
	for _, c := range cases {
		r := e.do(c.who, c.method, c.path, rawBody(c.body))
		if r.status != c.status {
			t.Errorf("%s %s %s as %q: got %d %s, want %d", c.method, short(c.path), short(c.body), c.who.user, r.status, short(string(r.body)), c.status)
			continue
		}
		if c.status >= 400 {
			var body struct {
				Errors []struct{ Code, Message string } `json:"errors"`
			}
			if err := json.Unmarshal(r.body, &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code == "" {
				t.Errorf("%s %s: error body %s is not Harbor's", c.method, short(c.path), short(string(r.body)))
			} else if len(body.Errors[0].Message) > 1024 {
				t.Errorf("%s %s: error message of %d bytes echoes the input", c.method, short(c.path), len(body.Errors[0].Message))
			}
		}
	}
	if after := e.rowCounts(tables); !sameCounts(before, after) {
		t.Errorf("rows changed by refused requests: before %v, after %v", before, after)
	}
}

// TestHostileInputLDAP is TestHostileInput for the LDAP endpoints, with a
// directory configured.
func TestHostileInputLDAP(t *testing.T) {
	e := newLDAPEnv(t, filepath.Join(t.TempDir(), "meta.db"))
	admin := e.as("admin")
	dev := cred{"alice", "alice-pw"} // a directory user without admin rights, signed in once before
	want(t, e.do(dev, "GET", "/users/current", nil), 200, "alice signs in")
	huge := `{"ldap_url":"` + strings.Repeat("a", 2<<20) + `"}`
	tables := []string{"users", "user_identities", "user_groups", "user_group_members", "settings"}
	runHostile(t, e.apiEnv, tables, []hostileCase{
		// LDAP.
		{admin, "POST", "/ldap/ping", `{"ldap_url":`, 400},
		{admin, "POST", "/ldap/ping", `{"ldap_url":7}`, 400},
		{admin, "POST", "/ldap/ping", `{"ldap_url":"file:///etc/passwd"}`, 400},
		{admin, "POST", "/ldap/ping", `{"ldap_url":"javascript:alert(1)"}`, 400},
		{admin, "POST", "/ldap/ping", `{"ldap_zzz":"x"}`, 400},
		{admin, "POST", "/ldap/ping", huge, 413},
		{admin, "POST", "/ldap/users/import", `{"ldap_uid_list":"bob"}`, 400},
		{admin, "POST", "/ldap/users/import", `{"ldap_uid_list":[` + strings.Repeat(`"u",`, 300000) + `"u"]}`, 413},
		{admin, "GET", "/ldap/users/search?username=%00", "", 400},
		{admin, "GET", "/ldap/users/search?username=" + strings.Repeat("*", 5000), "", 400},
		{admin, "GET", "/ldap/groups/search?groupname=%FF", "", 200}, // escaped into the filter: no match
		{admin, "GET", "/ldap/groups/search?groupdn=not%20a%20dn", "", 400},
		{admin, "GET", "/ldap/groups/search?groupdn=" + strings.Repeat("cn%3Dx%2C", 300), "", 400},
		{dev, "POST", "/ldap/ping", `{}`, 403},
		{dev, "GET", "/ldap/users/search?username=bob", "", 403},
		{dev, "POST", "/ldap/users/import", `{"ldap_uid_list":["bob"]}`, 403},
		{anon, "POST", "/ldap/ping", `{}`, 401},
		{anon, "GET", "/ldap/groups/search?groupname=x", "", 401},
	})
}

// rawBody is nil for no body, the string otherwise.
func rawBody(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func short(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

func (e *apiEnv) rowCounts(tables []string) map[string]int {
	e.t.Helper()
	out := map[string]int{}
	for _, tb := range tables {
		out[tb] = e.count("SELECT count(*) FROM " + tb)
	}
	return out
}

func sameCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}
