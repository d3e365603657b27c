package matrix

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/meta"
	spec "github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

// TestDeleteRepository covers what the matrix does not: names with a '/'
// (double-encoded in Harbor's path), unknown repositories and projects,
// and a robot holding repository:delete and nothing else.
func TestDeleteRepository(t *testing.T) {
	for _, d := range []struct {
		name   string
		subnet byte
		dsn    func(t *testing.T, dir string) string
	}{
		{meta.SQLite, 3, func(t *testing.T, dir string) string { return filepath.Join(dir, "berth.db") }},
		{meta.Postgres, 4, func(t *testing.T, _ string) string { return pgtest.DSN(t) }},
	} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			e := newEnv(t, d.dsn(t, dir), dir, d.subnet)
			ctx, q := e.ctx, e.db.Q()
			admin := e.adminAuth()
			pr, err := q.CreateProject(ctx, meta.Project{Name: "proj", OwnerID: e.admin.ID, StorageLimit: -1}, access.RoleProjectAdmin)
			if err != nil {
				t.Fatal(err)
			}
			for _, repo := range []string{"proj/team/app", "proj/team/tool", "proj/other"} {
				if r := e.push(t, admin, repo, "v1"); r.status != http.StatusCreated {
					t.Fatalf("push %s: %s", repo, r)
				}
			}
			perms, _ := json.Marshal([]access.RobotPermission{{Kind: "project", Namespace: "proj",
				Access: []access.RobotAccess{{Resource: access.ResRepository, Action: access.ActDelete}}}})
			if _, err := q.CreateRobot(ctx, meta.Robot{Name: "proj+cleaner", Level: meta.RobotProject, ProjectID: pr.ID,
				SecretHash: e.hash, Duration: -1, ExpiresAt: -1, Permissions: perms}); err != nil {
				t.Fatal(err)
			}
			cleaner := authz{user: "robot$proj+cleaner", pass: password, source: "10.251.0.1"}
			e.user(t, "someone")
			someone := authz{user: "someone", pass: password, source: "10.251.0.2"}
			del := func(a authz, path string) reply {
				return e.do(t, a, "DELETE", "/api/v2.0/projects/"+path, nil)
			}

			// The robot may delete with repository:delete alone; the
			// '/' in the name arrives double-encoded.
			if r := del(cleaner, "proj/repositories/team%252Fapp"); r.status != http.StatusOK {
				t.Fatalf("robot deletes proj/team/app: %s", r)
			}
			if e.exists(t, "proj/team/app", "v1") || !e.exists(t, "proj/team/tool", "v1") || !e.exists(t, "proj/other", "v1") {
				t.Fatal("the delete did not remove exactly proj/team/app")
			}
			if r := e.do(t, admin, "GET", "/v2/proj/team/app/tags/list", nil); r.status != http.StatusNotFound ||
				!strings.Contains(string(r.body), "NAME_UNKNOWN") {
				t.Fatalf("tags of the deleted repository: %s", r)
			}
			// A single-encoded '/' works too.
			if r := del(admin, "proj/repositories/team%2Ftool"); r.status != http.StatusOK {
				t.Fatalf("delete single-encoded name: %s", r)
			}
			// Bytes stay for garbage collection.
			if n, err := e.db.Count(ctx, `SELECT count(*) FROM blobs WHERE digest = ?`, string(spec.FromBytes(imageConfig))); err != nil || n != 1 {
				t.Fatalf("config blob rows after the deletes: %d, %v", n, err)
			}
			// The name can be pushed again, and starts empty.
			if r := e.push(t, admin, "proj/team/app", "v2"); r.status != http.StatusCreated {
				t.Fatalf("push after delete: %s", r)
			}
			if e.exists(t, "proj/team/app", "v1") {
				t.Fatal("an old tag came back with the recreated repository")
			}

			for _, c := range []struct {
				who        authz
				path       string
				status     int
				code, text string
			}{
				{admin, "proj/repositories/nope", http.StatusNotFound, "NOT_FOUND", `\"proj/nope\" is not known`},
				{admin, "proj/repositories/team%252Fnope", http.StatusNotFound, "NOT_FOUND", `\"proj/team/nope\" is not known`},
				{admin, "missing/repositories/app", http.StatusNotFound, "NOT_FOUND", "project missing not found"},
				// Permission comes first: nothing is revealed to those who may not delete.
				{someone, "missing/repositories/app", http.StatusForbidden, "FORBIDDEN", ""},
				{someone, "proj/repositories/other", http.StatusForbidden, "FORBIDDEN", ""},
				{cleaner, "proj/repositories/nope", http.StatusNotFound, "NOT_FOUND", ""},
				{authz{}, "proj/repositories/other", http.StatusUnauthorized, "UNAUTHORIZED", ""},
				{admin, "proj/repositories/BAD", http.StatusBadRequest, "BAD_REQUEST", ""},
			} {
				r := del(c.who, c.path)
				if r.status != c.status || !strings.Contains(string(r.body), `"`+c.code+`"`) || !strings.Contains(string(r.body), c.text) {
					t.Errorf("%s DELETE %s: %s, want %d %s %q", c.who.user, c.path, r, c.status, c.code, c.text)
				}
			}
			if !e.exists(t, "proj/other", "v1") {
				t.Fatal("a refused delete removed proj/other")
			}
			n, err := e.db.Count(ctx, `SELECT count(*) FROM audit_logs WHERE resource_type = 'repository' AND operation = 'delete'
				AND project_id = ? AND ((username = ? AND resource = ?) OR (username = ? AND resource = ?))`,
				pr.ID, "robot$proj+cleaner", "proj/team/app", access.AdminName, "proj/team/tool")
			if err != nil || n != 2 {
				t.Fatalf("audit records of the deletes: %d, %v", n, err)
			}
		})
	}
}
