package access

import (
	"fmt"
	"slices"
	"strings"
)

// The permission tables of docs/permissions.md are rendered from the
// matrix in rbac.go, so the document cannot drift from the code: a test
// compares the two (and rewrites the file when asked to).

// docRoles are the role columns, most powerful first, as Harbor's own
// documentation orders them.
var docRoles = []int{RoleProjectAdmin, RoleMaintainer, RoleDeveloper, RoleGuest, RoleLimitedGuest}

// docResources orders the rows by resource; resources missing here (added
// to rbac.go later) follow in alphabetical order.
var docResources = []string{
	ResProject, ResMember, ResMetadata, ResLog, ResQuota, ResConfiguration,
	ResRepository, ResArtifact, ResTag, ResAccessory, ResArtifactAddition, ResArtifactLabel, ResLabel,
	ResScan, ResSBOM, ResScanner, ResExportCVE,
	ResRobot, ResTagRetention, ResImmutableTag, ResNotification, ResPreheat,
}

// docActions orders the actions of one resource.
var docActions = []string{
	ActRead, ActList, ActPull, ActPush, ActCreate, ActUpdate, ActDelete, ActOperate, ActStop, ActScannerPull, ActAll,
}

func rank(list []string, s string) int {
	if i := slices.Index(list, s); i >= 0 {
		return i
	}
	return len(list)
}

// docOrder sorts permissions for the document.
func docOrder(a, b Perm) int {
	if c := rank(docResources, a.Resource) - rank(docResources, b.Resource); c != 0 {
		return c
	}
	if c := strings.Compare(a.Resource, b.Resource); c != 0 {
		return c
	}
	if c := rank(docActions, a.Action) - rank(docActions, b.Action); c != 0 {
		return c
	}
	return strings.Compare(a.Action, b.Action)
}

// PermissionsMarkdown renders docs/permissions.md: the project role
// matrix, what a public project grants everyone, how registry token
// actions map onto it, and the system-level permissions.
func PermissionsMarkdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("<!-- Generated from internal/access/rbac.go by internal/access/doc.go. Do not edit:\n")
	w("     change rbac.go, then run `BERTH_UPDATE_DOCS=1 go test ./internal/access -run TestPermissionsDocUpToDate`. -->\n")
	w("# Permissions\n\n")
	w("berth implements Harbor's permission model: projects, members with one of five roles,\n")
	w("system administrators and robot accounts. The matrix below is the one in the code\n")
	w("(`internal/access/rbac.go`), which follows Harbor's `src/common/rbac/project` (its code,\n")
	w("where it differs from the role table on Harbor's website: only Project Admins list\n")
	w("logs, and Guests and Developers may also list robots).\n\n")
	w("Anything not granted is denied. A refused request is answered 401 when the caller is\n")
	w("anonymous and 403 otherwise; on the registry API a token that lacks an action is\n")
	w("answered 401 with an `insufficient_scope` challenge, and Basic credentials that lack\n")
	w("it get 403 `DENIED`.\n\n")

	w("## Project roles\n\n")
	w("✓ = granted. The last column is what a **public** project grants everyone, anonymous\n")
	w("callers included, on top of their role; a private project grants non-members nothing.\n\n")
	w("| resource:action |")
	for _, r := range docRoles {
		w(" %s (%d) |", roleTitle(r), r)
	}
	w(" public project (anyone) |\n|---|")
	for range docRoles {
		w("---|")
	}
	w("---|\n")
	rows := ProjectPerms()
	for _, p := range publicPerms {
		if !slices.Contains(rows, p) {
			rows = append(rows, p)
		}
	}
	slices.SortFunc(rows, docOrder)
	for _, p := range rows {
		w("| %s |", p)
		for _, r := range docRoles {
			w(" %s |", tick(RoleAllows(r, p.Resource, p.Action)))
		}
		w(" %s |\n", tick(PublicAllows(p.Resource, p.Action)))
	}

	w("\n## Registry API (/v2/) actions\n\n")
	w("Docker token scopes name registry actions; each stands for one project permission:\n\n")
	w("| token action | needs | what it allows |\n|---|---|---|\n")
	for _, a := range []struct{ action, what string }{
		{ActPull, "read manifests, blobs, tags and referrers"},
		{ActPush, "upload blobs, push manifests, create or move tags"},
		{ActDelete, "delete a manifest by digest (with its tags) or a single tag"},
	} {
		p, _ := registryPerm(a.action)
		w("| `%s` | %s | %s |\n", a.action, p, a.what)
	}
	w("\nThe token service grants the requested actions that policy allows and silently\n")
	w("leaves out the others. `*` asks for all three.\n\n")

	w("## System administrators\n\n")
	w("A system administrator holds every permission on every project, whether or not it is a\n")
	w("member, and every system-level permission. The `admin` account created at first start\n")
	w("is one.\n\n")

	w("## Robot accounts\n\n")
	w("A robot holds exactly the permissions it was created with, never a role: a project\n")
	w("robot one project's (any of the resource:action pairs of the role table), a system robot\n")
	w("any mix of project permissions (for named projects, or `*` for all) and the system\n")
	w("permissions below. Like everyone, a robot also gets what public projects grant. A\n")
	w("robot that may create robots can only hand on a subset of its own permissions. An\n")
	w("expired or disabled robot cannot authenticate at all, and its tokens stop working at\n")
	w("once; the same goes for a disabled user.\n\n")

	w("## System permissions\n\n")
	w("What system administrators hold and what a system robot may be granted:\n\n")
	w("| resource | actions |\n|---|---|\n")
	byRes := map[string][]string{}
	var resources []string
	for _, p := range SystemPerms() {
		if _, ok := byRes[p.Resource]; !ok {
			resources = append(resources, p.Resource)
		}
		byRes[p.Resource] = append(byRes[p.Resource], p.Action)
	}
	slices.Sort(resources)
	for _, r := range resources {
		acts := byRes[r]
		slices.SortFunc(acts, func(a, b string) int { return rank(docActions, a) - rank(docActions, b) })
		w("| %s | %s |\n", r, strings.Join(acts, ", "))
	}
	w("\nA user who is not an administrator holds no system permission, except `project:create`\n")
	w("while `auth.project_creation` is `everyone` (the default).\n")
	return b.String()
}

// roleTitle is the role's name as Harbor's documentation writes it.
func roleTitle(role int) string {
	switch role {
	case RoleProjectAdmin:
		return "Project Admin"
	case RoleMaintainer:
		return "Maintainer"
	case RoleDeveloper:
		return "Developer"
	case RoleGuest:
		return "Guest"
	case RoleLimitedGuest:
		return "Limited Guest"
	}
	return RoleName(role)
}

func tick(ok bool) string {
	if ok {
		return "✓"
	}
	return ""
}
