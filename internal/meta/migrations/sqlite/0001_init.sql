-- Repositories, blobs, manifests, tags and upload sessions.
-- Times are INTEGER unix nanoseconds (UTC). TEXT compares byte by byte
-- (BINARY collation), like COLLATE "C" on PostgreSQL.

CREATE TABLE repositories (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Global, content-addressed. No foreign keys point here: GC coordinates
-- with pushes by locking these rows, not through constraints.
CREATE TABLE blobs (
    digest     TEXT NOT NULL PRIMARY KEY,
    size       INTEGER NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('live', 'deleting')),
    last_seen  INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE repo_blobs (
    repo_id    INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, digest)
);
CREATE INDEX repo_blobs_digest ON repo_blobs (digest);

CREATE TABLE manifests (
    repo_id       INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    artifact_type TEXT NOT NULL DEFAULT '',
    subject       TEXT NOT NULL DEFAULT '',
    size          INTEGER NOT NULL,
    annotations   TEXT,
    content       BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repo_id, digest)
);
CREATE INDEX manifests_subject ON manifests (repo_id, subject, digest) WHERE subject <> '';

CREATE TABLE manifest_blobs (
    repo_id         INTEGER NOT NULL,
    manifest_digest TEXT NOT NULL,
    blob_digest     TEXT NOT NULL,
    PRIMARY KEY (repo_id, manifest_digest, blob_digest),
    FOREIGN KEY (repo_id, manifest_digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_blobs_blob ON manifest_blobs (blob_digest);

CREATE TABLE manifest_children (
    repo_id       INTEGER NOT NULL,
    parent_digest TEXT NOT NULL,
    child_digest  TEXT NOT NULL,
    PRIMARY KEY (repo_id, parent_digest, child_digest),
    FOREIGN KEY (repo_id, parent_digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_children_child ON manifest_children (repo_id, child_digest);

-- A tag always names a manifest of its repository; deleting the manifest
-- deletes its tags.
CREATE TABLE tags (
    repo_id    INTEGER NOT NULL,
    name       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, name),
    FOREIGN KEY (repo_id, digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
);
CREATE INDEX tags_digest ON tags (repo_id, digest);

CREATE TABLE uploads (
    id            TEXT NOT NULL PRIMARY KEY,
    repo_id       INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    algorithm     TEXT NOT NULL,
    upload_offset INTEGER NOT NULL,
    hash_state    BLOB,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX uploads_repo ON uploads (repo_id);
CREATE INDEX uploads_updated_at ON uploads (updated_at);
