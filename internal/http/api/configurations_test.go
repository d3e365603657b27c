package api_test

import (
	"strings"
	"testing"
	"time"
)

type configValue struct {
	Value    any  `json:"value"`
	Editable bool `json:"editable"`
}

func (e *apiEnv) configurations() map[string]configValue {
	e.t.Helper()
	r := e.do(e.as("admin"), "GET", "/configurations", nil)
	want(e.t, r, 200, "GET /configurations")
	validateBoth(e.t, "GET", "/configurations", r)
	var c map[string]configValue
	decodeInto(e.t, r, &c)
	return c
}

func (e *apiEnv) putConfig(body any, status int, what string) apiResp {
	e.t.Helper()
	r := e.do(e.as("admin"), "PUT", "/configurations", body)
	want(e.t, r, status, what)
	validateBoth(e.t, "PUT", "/configurations", r)
	return r
}

// TestConfigurations reads and changes the run-time configuration, checks
// who may, and that each setting takes effect.
func TestConfigurations(t *testing.T) {
	forEachStack(t, func(t *testing.T, e *apiEnv) {
		c := e.configurations()
		for k, want := range map[string]configValue{
			"auth_mode":                    {"db_auth", true},
			"self_registration":            {false, true},
			"project_creation_restriction": {"everyone", true},
			"storage_per_project":          {float64(-1), true},
			"read_only":                    {false, true},
			"token_expiration":             {float64(30), false},
			"robot_token_duration":         {float64(30), true},
			"robot_name_prefix":            {"robot$", false},
			"quota_per_project_enable":     {true, false},
		} {
			if got := c[k]; got != want {
				t.Errorf("%s = %+v, want %+v", k, got, want)
			}
		}

		for _, who := range []string{"developer", "pa", "anonymous"} {
			status := 403
			if who == "anonymous" {
				status = 401
			}
			r := e.do(e.as(who), "GET", "/configurations", nil)
			wantErr(t, r, status, "", "GET /configurations as "+who)
			validateBoth(t, "GET", "/configurations", r)
			r = e.do(e.as(who), "PUT", "/configurations", map[string]any{"read_only": true})
			wantErr(t, r, status, "", "PUT /configurations as "+who)
			validateBoth(t, "PUT", "/configurations", r)
		}

		e.putConfig(map[string]any{
			"self_registration":            true,
			"project_creation_restriction": "adminonly",
			"storage_per_project":          1 << 20,
			"robot_token_duration":         7,
			"banner_message":               `{"message":"maintenance at noon","type":"warning"}`,
			"robot_name_prefix":            "robot$", // unchanged: accepted
			"auth_mode":                    "db_auth",
		}, 200, "PUT /configurations")
		c = e.configurations()
		if c["self_registration"].Value != true || c["project_creation_restriction"].Value != "adminonly" ||
			c["storage_per_project"].Value != float64(1<<20) || c["robot_token_duration"].Value != float64(7) {
			t.Fatalf("after PUT: %+v", c)
		}
		if n := e.audits("configuration", "update", "configurations"); n != 1 {
			t.Fatalf("audit entries: %d", n)
		}

		// Each takes effect: anonymous callers may register, only
		// administrators create projects, new projects get the default
		// storage limit, systeminfo shows the banner.
		want(t, e.do(anon, "POST", "/users", map[string]any{"username": "newbie", "email": "n@example.com",
			"realname": "New", "password": "Newbie1234"}), 201, "self-registration")
		wantErr(t, e.do(e.as("developer"), "POST", "/projects", map[string]any{"project_name": "devs"}), 403,
			"only system administrators", "create a project as a user")
		want(t, e.do(e.as("admin"), "POST", "/projects", map[string]any{"project_name": "limited-by-default"}), 201, "create a project as admin")
		var limit int64
		r := e.do(e.as("admin"), "GET", "/quotas?sort=-id&page_size=1", nil)
		var qs []struct {
			Ref  struct{ Name string }
			Hard map[string]int64
		}
		decodeInto(t, r, &qs)
		if len(qs) == 1 && qs[0].Ref.Name == "limited-by-default" {
			limit = qs[0].Hard["storage"]
		}
		if limit != 1<<20 {
			t.Fatalf("the new project's limit: %s", r.body)
		}
		si := e.do(anon, "GET", "/systeminfo", nil)
		if !strings.Contains(string(si.body), `maintenance at noon`) || !strings.Contains(string(si.body), `"self_registration":true`) {
			t.Fatalf("systeminfo: %s", si.body)
		}

		// Another node sees the change within seconds.
		_, other := e.serve()
		e.putConfig(map[string]any{"project_creation_restriction": "everyone"}, 200, "back to everyone")
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := e.doAt(other, e.as("developer"), "GET", "/systeminfo", nil)
			if strings.Contains(string(r.body), `"project_creation_restriction":"everyone"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the other node still shows %s", r.body)
			}
			time.Sleep(100 * time.Millisecond)
		}

		for _, c := range []struct {
			body   any
			substr string
		}{
			{map[string]any{"project_creation_restriction": "nobody"}, "project_creation_restriction"},
			{map[string]any{"storage_per_project": -5}, "storage_per_project"},
			{map[string]any{"storage_per_project": "lots"}, "storage_per_project"},
			{map[string]any{"robot_token_duration": 0}, "robot_token_duration"},
			{map[string]any{"read_only": "yes"}, "read_only"},
			{map[string]any{"robot_name_prefix": "bot$"}, "auth.robot_prefix"},
			{map[string]any{"token_expiration": 60}, "auth.token_expiry"},
			{map[string]any{"auth_mode": "ldap_auth"}, "auth_mode"},
			{map[string]any{"auth_mode": "uaa_auth"}, "auth_mode"},
			{map[string]any{"uaa_endpoint": "https://x"}, "identity provider"},
			{map[string]any{"no_such_key": 1}, "no_such_key"},
			{`["read_only"]`, "JSON"},
			{map[string]any{"read_only": true, "self_registration": "maybe"}, "self_registration"},
		} {
			r := e.do(e.as("admin"), "PUT", "/configurations", c.body)
			wantErr(t, r, 400, c.substr, "PUT /configurations")
			validateBoth(t, "PUT", "/configurations", r)
		}
		// A refused update changed nothing.
		if c := e.configurations(); c["read_only"].Value != false {
			t.Fatalf("read_only after a refused update: %+v", c["read_only"])
		}
		// Values sent as strings are read too, as some clients send them.
		e.putConfig(map[string]any{"self_registration": "false", "storage_per_project": "-1"}, 200, "string values")
		if c := e.configurations(); c["self_registration"].Value != false || c["storage_per_project"].Value != float64(-1) {
			t.Fatalf("after string values: %+v", c)
		}
	})
}

// TestReadOnly turns read-only mode on: pushes and deletes are refused
// with DENIED and a clear message, on /v2/ and through the API, while
// pulls go on; turning it off restores them.
func TestReadOnly(t *testing.T) {
	forEachStack(t, func(t *testing.T, e *apiEnv) {
		dev, admin := e.as("developer"), e.as("admin")
		e.pushImage(dev, "priv/app", "v1", blobOf('l', 300))
		e.putConfig(map[string]any{"read_only": true}, 200, "read-only on")
		si := e.do(dev, "GET", "/systeminfo", nil)
		if !strings.Contains(string(si.body), `"read_only":true`) {
			t.Fatalf("systeminfo: %s", si.body)
		}

		r, err := e.pushBlob(dev, "priv/app", blobOf('n', 10))
		if err != nil {
			t.Fatal(err)
		}
		want(t, r, 403, "push while read-only")
		if code, msg := ociError(t, r); code != "DENIED" || !strings.Contains(msg, "the registry is in read-only mode") {
			t.Fatalf("refusal: %s %q", code, msg)
		}
		r, _ = e.v2(admin, "DELETE", "/v2/priv/app/manifests/v1", nil)
		want(t, r, 403, "delete while read-only")
		r, _ = e.v2(dev, "GET", "/v2/priv/app/manifests/v1", nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
		want(t, r, 200, "pull while read-only")
		wantErr(t, e.do(admin, "DELETE", "/projects/priv/repositories/app", nil), 403, "read-only", "API delete while read-only")
		// Labels and settings stay editable.
		lr := e.do(admin, "POST", "/labels", map[string]any{"name": "frozen"})
		want(t, lr, 201, "create a label while read-only")

		e.putConfig(map[string]any{"read_only": false}, 200, "read-only off")
		if r, err := e.pushBlob(dev, "priv/app", blobOf('n', 10)); err != nil || r.status != 201 {
			t.Fatalf("push after read-only: %v %v", r, err)
		}
		want(t, e.do(admin, "DELETE", "/projects/priv/repositories/app", nil), 200, "API delete after read-only")
	})
}
