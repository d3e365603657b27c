package matrix

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
)

// The actions of the matrix: what each sends, which permission berth
// checks for it, and what must be true afterwards.

// action is one protected operation.
type action struct {
	name string
	// perm is the project permission berth checks for the request.
	perm access.Perm
	// scope is the registry token actions the request needs; "" for the
	// management API, which takes Basic credentials only.
	scope string
	fresh bool // acts on a repository that does not exist yet
	ok    int  // the status when allowed
	run   func(c *cell, a authz) reply
	// check asserts the state afterwards: the effect when allowed,
	// nothing changed otherwise.
	check func(c *cell, allowed bool, r reply)
}

var actions = []action{
	{
		name: "pull", perm: access.Perm{Resource: access.ResRepository, Action: access.ActPull}, scope: "pull", ok: http.StatusOK,
		run: func(c *cell, a authz) reply { return c.do(a, "GET", "/v2/"+c.repo+"/manifests/v1", nil) },
		check: func(c *cell, allowed bool, r reply) {
			if got := r.header.Get("Docker-Content-Digest"); allowed && got != imageDigest {
				c.t.Errorf("pulled digest %q, want %s", got, imageDigest)
			}
		},
	},
	{
		name: "push", perm: access.Perm{Resource: access.ResRepository, Action: access.ActPush}, scope: "pull,push", fresh: true, ok: http.StatusCreated,
		run: func(c *cell, a authz) reply { return c.e.push(c.t, a, c.fresh, "v1") },
		check: func(c *cell, allowed bool, r reply) {
			if got := c.e.exists(c.t, c.fresh, "v1"); got != allowed {
				c.t.Errorf("after the push %s:v1 exists = %v, want %v", c.fresh, got, allowed)
			}
		},
	},
	{
		name: "delete-artifact", perm: access.Perm{Resource: access.ResArtifact, Action: access.ActDelete}, scope: "delete", ok: http.StatusAccepted,
		run: func(c *cell, a authz) reply { return c.do(a, "DELETE", "/v2/"+c.repo+"/manifests/"+imageDigest, nil) },
		check: func(c *cell, allowed bool, r reply) {
			// The artifact goes with all its tags.
			for _, ref := range []string{imageDigest, "v1"} {
				if got := c.e.exists(c.t, c.repo, ref); got == allowed {
					c.t.Errorf("after deleting the artifact %s exists = %v", ref, got)
				}
			}
		},
	},
	{
		name: "delete-repository", perm: access.Perm{Resource: access.ResRepository, Action: access.ActDelete}, ok: http.StatusOK,
		run: func(c *cell, a authz) reply {
			return c.do(a, "DELETE", "/api/v2.0/projects/"+c.project.Name+"/repositories/app", nil)
		},
		check: func(c *cell, allowed bool, r reply) {
			tags := c.do(c.e.adminAuth(), "GET", "/v2/"+c.repo+"/tags/list", nil)
			if want := map[bool]int{true: http.StatusNotFound, false: http.StatusOK}[allowed]; tags.status != want {
				c.t.Errorf("after deleting the repository, its tag list: %s, want %d", tags, want)
			}
			n, err := c.e.db.Count(c.e.ctx, `SELECT count(*) FROM audit_logs WHERE resource_type = 'repository'
				AND operation = 'delete' AND resource = ? AND project_id = ?`, c.repo, c.project.ID)
			if err != nil {
				c.t.Fatal(err)
			}
			if want := map[bool]int{true: 1, false: 0}[allowed]; n != want {
				c.t.Errorf("repository delete audit records: %d, want %d", n, want)
			}
		},
	},
	{
		name: "create-tag", perm: access.Perm{Resource: access.ResRepository, Action: access.ActPush}, scope: "pull,push", ok: http.StatusCreated,
		run: func(c *cell, a authz) reply { return c.e.putManifest(c.t, a, c.repo, "v2") },
		check: func(c *cell, allowed bool, r reply) {
			if got := c.e.exists(c.t, c.repo, "v2"); got != allowed {
				c.t.Errorf("after tagging, tag v2 exists = %v, want %v", got, allowed)
			}
		},
	},
	{
		name: "delete-tag", perm: access.Perm{Resource: access.ResArtifact, Action: access.ActDelete}, scope: "delete", ok: http.StatusAccepted,
		run: func(c *cell, a authz) reply { return c.do(a, "DELETE", "/v2/"+c.repo+"/manifests/v1", nil) },
		check: func(c *cell, allowed bool, r reply) {
			if got := c.e.exists(c.t, c.repo, "v1"); got == allowed {
				c.t.Errorf("after deleting tag v1 it exists = %v", got)
			}
			if !c.e.exists(c.t, c.repo, imageDigest) {
				c.t.Errorf("deleting a tag deleted the artifact")
			}
		},
	},
	{
		name: "list-members", perm: access.Perm{Resource: access.ResMember, Action: access.ActList}, ok: http.StatusOK,
		run: func(c *cell, a authz) reply {
			return c.do(a, "GET", "/api/v2.0/projects/"+c.project.Name+"/members", nil)
		},
		check: func(c *cell, allowed bool, r reply) {
			if !allowed {
				return
			}
			var ms []memberRow
			err := json.Unmarshal(r.body, &ms)
			if !slices.Contains(ms, memberRow{access.AdminName, access.RoleProjectAdmin}) {
				c.t.Errorf("members %s: the owner is not listed (%v)", r, err)
			}
		},
	},
	{
		name: "manage-members", perm: access.Perm{Resource: access.ResMember, Action: access.ActCreate}, ok: http.StatusCreated,
		run: func(c *cell, a authz) reply {
			return c.doJSON(a, "POST", "/api/v2.0/projects/"+c.project.Name+"/members", map[string]any{
				"role_id": access.RoleGuest, "member_user": map[string]any{"username": c.e.target.Username},
			})
		},
		check: func(c *cell, allowed bool, r reply) {
			role, err := c.e.db.Q().MemberRole(c.e.ctx, c.project.ID, c.e.target.ID)
			switch {
			case allowed && (err != nil || role != access.RoleGuest):
				c.t.Errorf("after adding a member: role %d, %v; want %d", role, err, access.RoleGuest)
			case !allowed && !errs.Is(err, errs.NotFound):
				c.t.Errorf("a refused member add left role %d, %v", role, err)
			}
		},
	},
	{
		name: "manage-robots", perm: access.Perm{Resource: access.ResRobot, Action: access.ActCreate}, ok: http.StatusCreated,
		run: func(c *cell, a authz) reply {
			return c.doJSON(a, "POST", "/api/v2.0/robots", map[string]any{
				"name": "made", "level": "project", "duration": -1,
				"permissions": []map[string]any{{"kind": "project", "namespace": c.project.Name,
					"access": []map[string]string{{"resource": "repository", "action": "pull"}}}},
			})
		},
		check: func(c *cell, allowed bool, r reply) {
			_, err := c.e.db.Q().GetRobotByName(c.e.ctx, c.project.Name+"+made")
			if got := err == nil; got != allowed {
				c.t.Errorf("after creating a robot it exists = %v (%v), want %v", got, err, allowed)
			}
		},
	},
	{
		name: "read-logs", perm: access.Perm{Resource: access.ResLog, Action: access.ActList}, ok: http.StatusOK,
		run: func(c *cell, a authz) reply {
			return c.do(a, "GET", "/api/v2.0/projects/"+c.project.Name+"/logs?page_size=100", nil)
		},
		check: func(c *cell, allowed bool, r reply) {
			if !allowed {
				return
			}
			var logs []struct{ Resource, Operation string }
			if err := json.Unmarshal(r.body, &logs); err != nil {
				c.t.Fatalf("logs %s: %v", r, err)
			}
			if !slices.Contains(logs, struct{ Resource, Operation string }{c.repo + ":v1", "push"}) {
				c.t.Errorf("the project's logs do not show the push of %s:v1: %s", c.repo, r)
			}
		},
	},
	{
		name: "project-settings", perm: access.Perm{Resource: access.ResProject, Action: access.ActUpdate}, ok: http.StatusOK,
		run: func(c *cell, a authz) reply {
			return c.doJSON(a, "PUT", "/api/v2.0/projects/"+c.project.Name, map[string]any{
				"metadata": map[string]string{"auto_scan": "true"},
			})
		},
		check: func(c *cell, allowed bool, r reply) {
			pr, err := c.e.db.Q().GetProject(c.e.ctx, c.project.ID)
			if err != nil {
				c.t.Fatal(err)
			}
			if got := pr.Metadata["auto_scan"] == "true"; got != allowed {
				c.t.Errorf("after the update auto_scan = %q, want changed = %v", pr.Metadata["auto_scan"], allowed)
			}
		},
	},
}

// memberRow is the part of Harbor's member entity the matrix reads.
type memberRow struct {
	EntityName string `json:"entity_name"`
	RoleID     int    `json:"role_id"`
}

// tokenPerm is the project permission behind each registry token action.
var tokenPerm = map[string]access.Perm{
	"pull":   {Resource: access.ResRepository, Action: access.ActPull},
	"push":   {Resource: access.ResRepository, Action: access.ActPush},
	"delete": {Resource: access.ResArtifact, Action: access.ActDelete},
}
