-- Repositories, blobs, manifests, tags and upload sessions.
-- Names are compared byte by byte (COLLATE "C") so that pagination with
-- "last" matches SQLite and the Distribution spec's lexical order.

CREATE TABLE repositories (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Global, content-addressed. No foreign keys point here: GC coordinates
-- with pushes by locking these rows, not through constraints.
CREATE TABLE blobs (
    digest     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    size       BIGINT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('live', 'deleting')),
    last_seen  TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE repo_blobs (
    repo_id    BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest     TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (repo_id, digest)
);
CREATE INDEX repo_blobs_digest ON repo_blobs (digest);

CREATE TABLE manifests (
    repo_id       BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT COLLATE "C" NOT NULL,
    media_type    TEXT NOT NULL,
    artifact_type TEXT NOT NULL DEFAULT '',
    subject       TEXT COLLATE "C" NOT NULL DEFAULT '',
    size          BIGINT NOT NULL,
    annotations   TEXT,
    content       BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (repo_id, digest)
);
CREATE INDEX manifests_subject ON manifests (repo_id, subject, digest) WHERE subject <> '';

CREATE TABLE manifest_blobs (
    repo_id         BIGINT NOT NULL,
    manifest_digest TEXT COLLATE "C" NOT NULL,
    blob_digest     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repo_id, manifest_digest, blob_digest),
    FOREIGN KEY (repo_id, manifest_digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_blobs_blob ON manifest_blobs (blob_digest);

CREATE TABLE manifest_children (
    repo_id       BIGINT NOT NULL,
    parent_digest TEXT COLLATE "C" NOT NULL,
    child_digest  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repo_id, parent_digest, child_digest),
    FOREIGN KEY (repo_id, parent_digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_children_child ON manifest_children (repo_id, child_digest);

-- A tag always names a manifest of its repository; deleting the manifest
-- deletes its tags.
CREATE TABLE tags (
    repo_id    BIGINT NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    digest     TEXT COLLATE "C" NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (repo_id, name),
    FOREIGN KEY (repo_id, digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
);
CREATE INDEX tags_digest ON tags (repo_id, digest);

CREATE TABLE uploads (
    id            TEXT NOT NULL PRIMARY KEY,
    repo_id       BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    algorithm     TEXT NOT NULL,
    upload_offset BIGINT NOT NULL,
    hash_state    BYTEA,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX uploads_repo ON uploads (repo_id);
CREATE INDEX uploads_updated_at ON uploads (updated_at);
