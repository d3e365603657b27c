package access

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// Kind says what sort of caller a Principal is.
type Kind int

const (
	Anonymous Kind = iota
	UserKind
	RobotKind
)

// Principal is the authenticated caller of a request.
type Principal struct {
	Kind     Kind
	UserID   int64
	Username string // for robots, the full name with prefix
	SysAdmin bool
	Robot    *RobotInfo
	// GroupIDs are the user's groups (from its identity provider, as last
	// seen at login), whose project roles it holds too. Resolved when the
	// principal is built (PrincipalFor).
	GroupIDs []int64
}

// RobotInfo is what a robot principal carries for policy decisions.
type RobotInfo struct {
	ID          int64
	Name        string // stored name, without prefix
	Level       string
	ProjectID   int64
	ExpiresAt   int64
	Permissions []RobotPermission
}

// RobotPermission is Harbor's robot permission entry.
type RobotPermission struct {
	Kind      string        `json:"kind"`      // "system" or "project"
	Namespace string        `json:"namespace"` // "/" for system, a project name, or "*"
	Access    []RobotAccess `json:"access"`
}

// RobotAccess is one resource/action grant.
type RobotAccess struct {
	Resource string `json:"resource"`
	Action   string `json:"action"`
	Effect   string `json:"effect,omitempty"`
}

// IsAnonymous reports whether nobody authenticated.
func (p Principal) IsAnonymous() bool { return p.Kind == Anonymous }

// Name is the user or robot name, or "anonymous".
func (p Principal) Name() string {
	if p.Kind == Anonymous {
		return "anonymous"
	}
	return p.Username
}

// ParseRobotPermissions decodes the stored permission JSON.
func ParseRobotPermissions(b []byte) ([]RobotPermission, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var ps []RobotPermission
	if err := json.Unmarshal(b, &ps); err != nil {
		return nil, fmt.Errorf("robot permissions: %w", err)
	}
	return ps, nil
}

// robotPrincipal builds the principal of a robot row.
func robotPrincipal(r meta.Robot, prefix string) (Principal, error) {
	ps, err := ParseRobotPermissions(r.Permissions)
	if err != nil {
		return Principal{}, err
	}
	return Principal{
		Kind:     RobotKind,
		Username: prefix + r.Name,
		Robot: &RobotInfo{
			ID: r.ID, Name: r.Name, Level: r.Level, ProjectID: r.ProjectID,
			ExpiresAt: r.ExpiresAt, Permissions: ps,
		},
	}, nil
}

// robotUsable reports why a robot cannot authenticate, or "" when it can.
func robotUsable(r meta.Robot, now time.Time) string {
	switch {
	case r.Disabled:
		return "the robot account is disabled"
	case r.ExpiresAt >= 0 && now.Unix() >= r.ExpiresAt:
		return "the robot account has expired"
	}
	return ""
}

// robotGrants reports whether a robot's permissions grant resource:action
// in project (kind "project") or at system level (project == "").
func (r *RobotInfo) grants(project, resource, action string) bool {
	for _, p := range r.Permissions {
		switch {
		case project == "" && p.Kind == "system":
		case project != "" && p.Kind == "project" && (p.Namespace == project || p.Namespace == "*"):
		default:
			continue
		}
		for _, a := range p.Access {
			if a.Effect == "deny" {
				continue
			}
			if a.Resource == resource && (a.Action == action || a.Action == ActAll) {
				return true
			}
		}
	}
	return false
}
