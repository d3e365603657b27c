// Package meta is berth's metadata store and the source of truth: which
// repositories, blobs, manifests, tags and upload sessions exist. One SQL
// implementation serves SQLite (modernc.org/sqlite) and PostgreSQL
// (jackc/pgx/v5) with embedded migrations. It never touches blob bytes or
// HTTP.
package meta

import (
	"time"

	"github.com/berth-registry/berth/internal/oci"
)

// Blob states (DESIGN.md, GC protocol).
const (
	BlobLive     = "live"
	BlobDeleting = "deleting"
)

// Repo is a repository row.
type Repo struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Blob is a global blob row: bytes exist in the blob store under Digest.
type Blob struct {
	Digest    oci.Digest
	Size      int64
	State     string
	LastSeen  time.Time
	CreatedAt time.Time
}

// Manifest is a manifest stored in a repository; Content holds its bytes.
type Manifest struct {
	RepoID       int64
	Digest       oci.Digest
	MediaType    string
	ArtifactType string // effective artifact type for the referrers API
	Subject      oci.Digest
	Size         int64
	Annotations  map[string]string
	Content      []byte
	CreatedAt    time.Time
}

// Tag points a name in a repository at a manifest digest.
type Tag struct {
	RepoID    int64
	Name      string
	Digest    oci.Digest
	UpdatedAt time.Time
}

// Upload is a blob upload session. Offset bytes have been written to the
// blob store's upload data, and HashState is the marshalled hash of them.
type Upload struct {
	ID        string
	RepoID    int64
	Algorithm string // digest algorithm of the running hash (sha256/sha512)
	Offset    int64
	HashState []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// User group types, as Harbor numbers them.
const (
	GroupLDAP = 1
	GroupHTTP = 2
	GroupOIDC = 3
)

// UserGroup is a group of users from an identity provider (Harbor's
// usergroup). LDAP groups are known by their DN, the others by name.
type UserGroup struct {
	ID        int64
	Name      string
	Type      int    // GroupLDAP, GroupHTTP or GroupOIDC
	LDAPDN    string // LDAP groups only
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Identity sources of users who came from an identity provider.
const (
	SourceOIDC = "oidc"
	SourceLDAP = "ldap"
)

// UserIdentity ties a user to its account at an identity provider. The
// sealed fields are opaque to the store: the access service encrypts
// them.
type UserIdentity struct {
	UserID        int64
	Source        string // SourceOIDC or SourceLDAP
	Issuer        string // OIDC issuer; for LDAP "" or the server
	Subject       string // OIDC subject; for LDAP the user's DN
	RefreshToken  []byte // sealed OIDC refresh token; empty when none
	VerifiedAt    time.Time
	CLISecret     []byte // sealed CLI secret; empty when none
	CLISecretHash string // hex SHA-256 of the CLI secret
	CreatedAt     time.Time
	UpdatedAt     time.Time
}
