package meta

import "time"

// User is a local (or, later, OIDC/LDAP-provisioned) account.
type User struct {
	ID           int64
	Username     string
	Email        string
	Realname     string
	Comment      string
	PasswordHash string // "" for accounts that cannot log in with a password
	SysAdmin     bool
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Project groups repositories named "<project>/…" and carries access rules.
type Project struct {
	ID           int64
	Name         string
	OwnerID      int64
	Public       bool
	StorageLimit int64             // bytes; -1 unlimited
	Metadata     map[string]string // Harbor's string metadata (auto_scan, severity, …)
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Member entity types.
const (
	MemberUser  = "u"
	MemberGroup = "g"
)

// Member gives a user (or group) a role in a project.
type Member struct {
	ID         int64
	ProjectID  int64
	EntityType string // MemberUser or MemberGroup
	EntityID   int64
	EntityName string // username or group name (filled on reads)
	RoleID     int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Robot levels.
const (
	RobotSystem  = "system"
	RobotProject = "project"
)

// Robot is a machine account. Name is stored without the configurable
// prefix: "<project>+<name>" for project robots, "<name>" for system ones.
type Robot struct {
	ID          int64
	Name        string
	Description string
	Level       string // RobotSystem or RobotProject
	ProjectID   int64  // project robots only; 0 otherwise
	SecretHash  string
	Disabled    bool
	Duration    int64  // days; -1 never expires
	ExpiresAt   int64  // unix seconds; -1 never
	Permissions []byte // JSON of Harbor's [{kind, namespace, access:[{resource, action, effect}]}]
	CreatorType string // "local" user or "robot"
	CreatorRef  int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// AuditLog is one recorded operation.
type AuditLog struct {
	ID           int64
	ProjectID    int64 // 0 for system-level events
	Username     string
	Resource     string // e.g. "library/nginx:latest", "robot$ci"
	ResourceType string // artifact, repository, project, member, robot, user, login
	Operation    string // create, delete, pull, push, update, login_failed, …
	SourceIP     string
	Detail       string
	OpTime       time.Time
}

// Session is a UI login. Only the hash of the session token is stored.
type Session struct {
	TokenHash string
	UserID    int64
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ListOptions pages and filters management listings. Query holds exact,
// fuzzy and list matches on whitelisted columns (see each method); Sort is
// Harbor's "field,-field" syntax restricted to whitelisted columns.
type ListOptions struct {
	Page     int // 1-based
	PageSize int
	Query    []Cond
	Sort     []SortKey
}

// Cond is one parsed q= condition.
type Cond struct {
	Key    string
	Op     string   // "=" exact, "~" fuzzy (substring), "in" any of Values, "range" Min..Max
	Values []string // one for "=" and "~"; several for "in"; two (min, max; "" = open) for "range"
}

// SortKey orders a listing.
type SortKey struct {
	Key  string
	Desc bool
}
