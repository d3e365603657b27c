// Package access owns who may do what: users, robots, sessions, registry
// tokens, Harbor's roles and every policy decision. The permission matrix
// lives in this file and nowhere else; handlers ask, they never decide.
package access

import (
	"slices"
	"strings"
)

// Role ids, as Harbor numbers them.
const (
	RoleProjectAdmin = 1
	RoleDeveloper    = 2
	RoleGuest        = 3
	RoleMaintainer   = 4
	RoleLimitedGuest = 5
)

// RoleName returns Harbor's name for a role id.
func RoleName(role int) string {
	switch role {
	case RoleProjectAdmin:
		return "projectAdmin"
	case RoleDeveloper:
		return "developer"
	case RoleGuest:
		return "guest"
	case RoleMaintainer:
		return "maintainer"
	case RoleLimitedGuest:
		return "limitedGuest"
	}
	return ""
}

// ValidRole reports whether role is one of Harbor's five roles.
func ValidRole(role int) bool { return RoleName(role) != "" }

// Resources of a project, as Harbor names them ("" is the project itself).
const (
	ResProject          = ""
	ResMember           = "member"
	ResMetadata         = "metadata"
	ResLog              = "log"
	ResLabel            = "label"
	ResQuota            = "quota"
	ResRepository       = "repository"
	ResArtifact         = "artifact"
	ResTag              = "tag"
	ResAccessory        = "accessory"
	ResArtifactAddition = "artifact-addition"
	ResArtifactLabel    = "artifact-label"
	ResScan             = "scan"
	ResSBOM             = "sbom"
	ResScanner          = "scanner"
	ResRobot            = "robot"
	ResTagRetention     = "tag-retention"
	ResImmutableTag     = "immutable-tag"
	ResConfiguration    = "configuration"
	ResNotification     = "notification-policy"
	ResPreheat          = "preheat-policy"
	ResExportCVE        = "export-cve"
)

// Actions.
const (
	ActPull        = "pull"
	ActPush        = "push"
	ActCreate      = "create"
	ActRead        = "read"
	ActUpdate      = "update"
	ActDelete      = "delete"
	ActList        = "list"
	ActOperate     = "operate"
	ActStop        = "stop"
	ActScannerPull = "scanner-pull"
	ActAll         = "*"
)

// Perm is one resource:action pair.
type Perm struct{ Resource, Action string }

func (p Perm) String() string {
	if p.Resource == "" {
		return "project:" + p.Action
	}
	return p.Resource + ":" + p.Action
}

func perms(resource string, actions ...string) []Perm {
	out := make([]Perm, len(actions))
	for i, a := range actions {
		out[i] = Perm{resource, a}
	}
	return out
}

func join(groups ...[]Perm) []Perm {
	var out []Perm
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// The project role matrix, following Harbor's src/common/rbac/project
// (the code, which differs from its website's table in places).
var (
	limitedGuestPerms = join(
		perms(ResProject, ActRead),
		perms(ResQuota, ActRead),
		perms(ResRepository, ActRead, ActList, ActPull),
		perms(ResArtifact, ActRead, ActList),
		perms(ResTag, ActList),
		perms(ResAccessory, ActList),
		perms(ResArtifactAddition, ActRead),
		perms(ResScan, ActRead),
		perms(ResSBOM, ActRead),
		perms(ResScanner, ActRead),
		perms(ResConfiguration, ActRead),
	)
	guestPerms = join(limitedGuestPerms,
		perms(ResMember, ActRead, ActList),
		perms(ResLabel, ActRead, ActList),
		perms(ResRobot, ActRead, ActList),
	)
	developerPerms = join(guestPerms,
		perms(ResRepository, ActCreate, ActUpdate, ActPush),
		perms(ResArtifact, ActCreate),
		perms(ResTag, ActCreate),
		perms(ResArtifactLabel, ActCreate, ActDelete),
		perms(ResTagRetention, ActCreate, ActRead, ActUpdate, ActDelete, ActList, ActOperate),
		perms(ResExportCVE, ActCreate, ActRead, ActList),
	)
	maintainerPerms = join(developerPerms,
		perms(ResMetadata, ActRead),
		perms(ResLabel, ActCreate, ActUpdate, ActDelete),
		perms(ResRepository, ActDelete),
		perms(ResArtifact, ActDelete),
		perms(ResTag, ActDelete),
		perms(ResScan, ActCreate, ActStop),
		perms(ResSBOM, ActCreate, ActStop),
		perms(ResImmutableTag, ActCreate, ActUpdate, ActDelete, ActList),
		perms(ResNotification, ActRead, ActList),
	)
	projectAdminPerms = join(maintainerPerms,
		perms(ResProject, ActUpdate, ActDelete),
		perms(ResMember, ActCreate, ActUpdate, ActDelete),
		perms(ResMetadata, ActCreate, ActUpdate, ActDelete),
		perms(ResLog, ActList),
		perms(ResScanner, ActCreate),
		perms(ResRobot, ActCreate, ActUpdate, ActDelete),
		perms(ResConfiguration, ActUpdate),
		perms(ResNotification, ActCreate, ActUpdate, ActDelete),
		perms(ResPreheat, ActCreate, ActRead, ActUpdate, ActDelete, ActList),
	)
	// publicPerms is what anyone, anonymous included, holds on a public
	// project.
	publicPerms = join(
		perms(ResProject, ActRead),
		perms(ResLabel, ActRead, ActList),
		perms(ResRepository, ActList, ActPull),
		perms(ResScan, ActRead),
		perms(ResScanner, ActRead),
		perms(ResTag, ActList),
		perms(ResArtifact, ActRead, ActList),
		perms(ResArtifactAddition, ActRead),
		perms(ResAccessory, ActList),
	)
)

var roleMatrix = map[int]map[Perm]bool{
	RoleProjectAdmin: set(projectAdminPerms),
	RoleMaintainer:   set(maintainerPerms),
	RoleDeveloper:    set(developerPerms),
	RoleGuest:        set(guestPerms),
	RoleLimitedGuest: set(limitedGuestPerms),
}

var publicSet = set(publicPerms)

func set(ps []Perm) map[Perm]bool {
	m := make(map[Perm]bool, len(ps))
	for _, p := range ps {
		m[p] = true
	}
	return m
}

// RoleAllows reports whether a project role grants resource:action.
func RoleAllows(role int, resource, action string) bool {
	return roleMatrix[role][Perm{resource, action}]
}

// PublicAllows reports whether a public project grants resource:action to
// everyone.
func PublicAllows(resource, action string) bool { return publicSet[Perm{resource, action}] }

// RolePerms lists a role's permissions in a stable order (docs, UI).
func RolePerms(role int) []Perm {
	var out []Perm
	for p := range roleMatrix[role] {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Perm) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// ProjectPerms is every permission a project role can hold: what a
// project-level robot may be granted.
func ProjectPerms() []Perm { return RolePerms(RoleProjectAdmin) }

// System resources that system robots may be granted.
var systemPerms = join(
	perms("audit-log", ActList),
	perms("project", ActList, ActCreate),
	perms("registry", ActCreate, ActRead, ActUpdate, ActDelete, ActList),
	perms("scan-all", ActCreate, ActRead, ActUpdate, ActStop),
	perms("garbage-collection", ActCreate, ActRead, ActUpdate, ActList, ActStop),
	perms("purge-audit", ActCreate, ActRead, ActUpdate, ActList, ActStop),
	perms("catalog", ActRead),
	perms("quota", ActRead, ActList, ActUpdate),
	perms("robot", ActCreate, ActRead, ActList, ActDelete),
	perms("user", ActCreate, ActRead, ActUpdate, ActDelete, ActList),
	perms("user-group", ActCreate, ActRead, ActUpdate, ActDelete, ActList),
	perms("scanner", ActCreate, ActRead, ActUpdate, ActDelete, ActList),
	perms("label", ActCreate, ActRead, ActUpdate, ActDelete, ActList),
	perms("system-volumes", ActRead),
)

var systemSet = set(systemPerms)

// SystemPerms lists the system-level permissions.
func SystemPerms() []Perm { return slices.Clone(systemPerms) }

// ValidSystemPerm reports whether p is a known system permission.
func ValidSystemPerm(p Perm) bool { return systemSet[p] }

// ValidProjectPerm reports whether p is a known project permission.
func ValidProjectPerm(p Perm) bool { return roleMatrix[RoleProjectAdmin][p] }
