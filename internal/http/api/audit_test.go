package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// auditBody is Harbor's AuditLog as the tests read it.
type auditBody struct {
	ID           int64     `json:"id"`
	Username     string    `json:"username"`
	Resource     string    `json:"resource"`
	ResourceType string    `json:"resource_type"`
	Operation    string    `json:"operation"`
	OpTime       time.Time `json:"op_time"`
}

// summary is "username operation resource_type resource".
func (a auditBody) summary() string {
	return a.Username + " " + a.Operation + " " + a.ResourceType + " " + a.Resource
}

// auditEnv makes audited changes through the API, in this order:
//
//	outsider creates project solo (becoming its only Project Admin)
//	pa updates project priv
//	pa adds outsider to priv as a guest
//	admin creates user zed
//	admin updates project pub
func auditEnv(t *testing.T, e *apiEnv) {
	t.Helper()
	want(t, e.do(e.as("outsider"), "POST", "/projects", map[string]any{"project_name": "solo"}), 201, "create solo")
	want(t, e.do(e.as("pa"), "PUT", "/projects/priv", map[string]any{"metadata": map[string]string{"auto_scan": "true"}}), 200, "update priv")
	want(t, e.do(e.as("pa"), "POST", "/projects/priv/members", addBody(access.RoleGuest, map[string]any{"username": "outsider"})), 201, "add outsider")
	want(t, e.do(e.as("admin"), "POST", "/users", newUser("zed")), 201, "create zed")
	want(t, e.do(e.as("admin"), "PUT", "/projects/pub", map[string]any{"metadata": map[string]string{"auto_scan": "true"}}), 200, "update pub")
}

func TestAuditLogs(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		auditEnv(t, e)
		list := func(c cred, path string) (apiResp, []string) {
			t.Helper()
			r := e.do(c, "GET", path, nil)
			want(t, r, 200, path)
			var logs []auditBody
			decodeInto(t, r, &logs)
			out := []string{}
			for _, a := range logs {
				if a.ID == 0 || a.OpTime.IsZero() {
					t.Errorf("%s: entry without id or time: %+v", path, a)
				}
				out = append(out, a.summary())
			}
			return r, out
		}
		all := []string{
			"admin update project pub",
			"admin create user zed",
			"pa create member outsider",
			"pa update project priv",
			"outsider create project solo",
		}
		now := time.Now().UTC()
		hour := func(d time.Duration) string { return now.Add(d).Format("2006-01-02 15:04:05") }
		for _, c := range []struct {
			caller, query string
			want          []string
		}{
			{"admin", "", all},
			{"admin", "sort=op_time", []string{all[4], all[3], all[2], all[1], all[0]}},
			{"admin", "q=" + qesc("resource_type=project"), []string{all[0], all[3], all[4]}},
			{"admin", "q=" + qesc("operation=create"), []string{all[1], all[2], all[4]}},
			{"admin", "q=" + qesc("username=pa"), []string{all[2], all[3]}},
			{"admin", "q=" + qesc("resource=~ri"), []string{all[3]}},
			{"admin", "q=" + qesc("resource_type={user member}"), []string{all[1], all[2]}},
			{"admin", "q=" + qesc("op_time=["+hour(-time.Hour)+"~"+hour(time.Hour)+"]"), all},
			{"admin", "q=" + qesc("op_time=["+hour(time.Hour)+"~]"), []string{}},
			{"admin", "page=2&page_size=2", []string{all[2], all[3]}},
			// Others see the projects where they are Project Admin.
			{"pa", "", []string{all[2], all[3]}},
			{"outsider", "", []string{all[4]}},
			{"outsider", "q=" + qesc("operation=update"), []string{}},
			{"developer", "", []string{}},
			{"limited", "", []string{}},
		} {
			_, got := list(e.as(c.caller), "/audit-logs?"+c.query)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("%s /audit-logs?%s (-want +got):\n%s", c.caller, c.query, diff)
			}
		}
		r, _ := list(e.as("admin"), "/audit-logs?page=2&page_size=2")
		if r.header.Get("X-Total-Count") != "5" {
			t.Errorf("X-Total-Count = %q", r.header.Get("X-Total-Count"))
		}
		if got, w := r.header.Get("Link"), `</api/v2.0/audit-logs?page=1&page_size=2>; rel="prev" , </api/v2.0/audit-logs?page=3&page_size=2>; rel="next"`; got != w {
			t.Errorf("Link = %q, want %q", got, w)
		}
		r, _ = list(e.as("developer"), "/audit-logs")
		if r.header.Get("X-Total-Count") != "0" {
			t.Errorf("developer's X-Total-Count = %q", r.header.Get("X-Total-Count"))
		}

		// A Project Admin of several projects sees all of them.
		want(t, e.do(e.as("pa"), "POST", "/projects", map[string]any{"project_name": "second"}), 201, "second project")
		if _, got := list(e.as("pa"), "/audit-logs"); !cmp.Equal(got, []string{"pa create project second", all[2], all[3]}) {
			t.Errorf("pa with two projects sees %v", got)
		}
		r, got := list(e.as("pa"), "/audit-logs?page=2&page_size=2")
		if !cmp.Equal(got, []string{all[3]}) || r.header.Get("X-Total-Count") != "3" {
			t.Errorf("pa's page 2: %v, X-Total-Count %q", got, r.header.Get("X-Total-Count"))
		}
		if _, got := list(e.as("pa"), "/audit-logs?sort=resource"); !cmp.Equal(got, []string{all[2], all[3], "pa create project second"}) {
			t.Errorf("pa's log by resource: %v", got)
		}
		if _, got := list(e.as("pa"), "/audit-logs?q="+qesc("resource_type=project")); !cmp.Equal(got, []string{"pa create project second", all[3]}) {
			t.Errorf("pa's project entries: %v", got)
		}
		// A robot granted audit-log:list sees everything.
		robot := e.robot("auditor", `[{"kind":"system","namespace":"/","access":[{"resource":"audit-log","action":"list"}]}]`)
		if _, got := list(robot, "/audit-logs?page_size=100"); len(got) != 6 {
			t.Errorf("auditor robot sees %v", got)
		}
		puller := e.robot("puller", `[{"kind":"project","namespace":"priv","access":[{"resource":"repository","action":"pull"}]}]`)
		if _, got := list(puller, "/audit-logs"); len(got) != 0 {
			t.Errorf("pull robot sees %v", got)
		}

		for _, c := range []struct {
			caller, query string
			status        int
			msg           string
		}{
			{"anonymous", "", 401, "authentication required"},
			{"admin", "q=" + qesc("op_time=[yesterday~]"), 400, "op_time"},
			{"admin", "q=" + qesc("source_ip=1.2.3.4"), 400, "source_ip"},
			{"admin", "sort=detail", 400, "detail"},
			{"admin", "q=" + qesc("operation"), 400, "="},
			{"pa", "page_size=-1", 400, "page_size"},
		} {
			wantErr(t, e.do(e.as(c.caller), "GET", "/audit-logs?"+c.query, nil), c.status, c.msg, c.caller+" "+c.query)
		}
	})
}

func TestProjectLogs(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		auditEnv(t, e)
		for _, c := range []struct {
			caller, path string
			status       int
			want         []string
		}{
			{"pa", "/projects/priv/logs", 200, []string{"pa create member outsider", "pa update project priv"}},
			{"admin", "/projects/priv/logs", 200, []string{"pa create member outsider", "pa update project priv"}},
			{"pa", "/projects/priv/logs?q=" + qesc("resource_type=member"), 200, []string{"pa create member outsider"}},
			{"admin", "/projects/pub/logs", 200, []string{"admin update project pub"}},
			{"outsider", "/projects/solo/logs", 200, []string{"outsider create project solo"}},
			{"maintainer", "/projects/priv/logs", 403, nil},
			{"outsider", "/projects/priv/logs", 403, nil},
			{"anonymous", "/projects/pub/logs", 401, nil},
			{"outsider", "/projects/pub/logs", 403, nil},
			{"pa", "/projects/missing/logs", 403, nil},
			{"admin", "/projects/missing/logs", 404, nil},
			// The path names the project; a number is a name here.
			{"pa", "/projects/" + id(e.priv.ID) + "/logs", 403, nil},
			{"admin", "/projects/priv/logs?q=" + qesc("bogus=1"), 400, nil},
		} {
			r := e.do(e.as(c.caller), "GET", c.path, nil)
			if c.status != 200 {
				wantErr(t, r, c.status, "", c.caller+" "+c.path)
				continue
			}
			want(t, r, 200, c.caller+" "+c.path)
			var logs []auditBody
			decodeInto(t, r, &logs)
			got := []string{}
			for _, a := range logs {
				got = append(got, a.summary())
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", c.caller, c.path, diff)
			}
			if r.header.Get("X-Total-Count") != strings.TrimSpace(id(int64(len(c.want)))) {
				t.Errorf("%s %s: X-Total-Count %q", c.caller, c.path, r.header.Get("X-Total-Count"))
			}
		}
	})
}

func TestAuditPurge(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		old := time.Now().Add(-48 * time.Hour).UTC()
		e.acc.Audit(e.ctx, meta.AuditLog{Username: "admin", Resource: "ancient", ResourceType: "project", Operation: "create", OpTime: old})
		e.acc.Audit(e.ctx, meta.AuditLog{Username: "admin", Resource: "recent", ResourceType: "project", Operation: "create"})
		if _, err := e.acc.PurgeAudit(e.ctx, 0); !errs.Is(err, errs.Invalid) {
			t.Errorf("PurgeAudit(0) = %v, want invalid", err)
		}
		n, err := e.acc.PurgeAudit(e.ctx, 24*time.Hour)
		if err != nil || n != 1 {
			t.Fatalf("PurgeAudit = %d, %v; want 1 deleted", n, err)
		}
		if e.audits("project", "create", "ancient") != 0 || e.audits("project", "create", "recent") != 1 {
			t.Error("purge deleted the wrong rows")
		}
	})
}
