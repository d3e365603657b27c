-- Users, projects, project members, robot accounts, the audit log and UI
-- sessions. Text that listings sort or search is COLLATE "C": it orders
-- byte by byte like SQLite, and lower() folds ASCII only, like SQLite's.
-- robots.expires_at is unix seconds (-1 never) as Harbor shows it.

-- username_key and email_key are lower-cased by the store (Go's
-- strings.ToLower), so names and addresses collide case-insensitively the
-- same way on every dialect. email_key is NULL when there is no email:
-- unique only when present.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL,
    username_key  TEXT COLLATE "C" NOT NULL UNIQUE,
    email         TEXT COLLATE "C" NOT NULL DEFAULT '',
    email_key     TEXT COLLATE "C" UNIQUE,
    realname      TEXT COLLATE "C" NOT NULL DEFAULT '',
    comment       TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    sysadmin      BOOLEAN NOT NULL DEFAULT FALSE,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

-- owner_id has no foreign key: a project outlives the account that
-- created it, as in Harbor.
CREATE TABLE projects (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT COLLATE "C" NOT NULL UNIQUE,
    owner_id      BIGINT NOT NULL,
    public        BOOLEAN NOT NULL DEFAULT FALSE,
    storage_limit BIGINT NOT NULL DEFAULT -1,
    metadata      TEXT NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX projects_owner ON projects (owner_id);

-- entity_id is a user id (entity_type 'u') or a group id ('g'), so it has
-- no foreign key; the store deletes a user's memberships with the user.
CREATE TABLE project_members (
    id          BIGSERIAL PRIMARY KEY,
    project_id  BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    entity_type TEXT NOT NULL CHECK (entity_type IN ('u', 'g')),
    entity_id   BIGINT NOT NULL,
    role_id     INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (project_id, entity_type, entity_id)
);
CREATE INDEX project_members_entity ON project_members (entity_type, entity_id);

-- Project robots belong to their project and go with it; system robots
-- have no project_id.
CREATE TABLE robots (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT COLLATE "C" NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    level        TEXT COLLATE "C" NOT NULL CHECK (level IN ('system', 'project')),
    project_id   BIGINT REFERENCES projects (id) ON DELETE CASCADE,
    secret_hash  TEXT NOT NULL DEFAULT '',
    disabled     BOOLEAN NOT NULL DEFAULT FALSE,
    duration     BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    permissions  TEXT NOT NULL DEFAULT '[]',
    creator_type TEXT NOT NULL DEFAULT '',
    creator_ref  BIGINT NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    CHECK ((level = 'project') = (project_id IS NOT NULL))
);
CREATE INDEX robots_project ON robots (project_id);

-- project_id is 0 for system events and has no foreign key: the log
-- outlives what it describes.
CREATE TABLE audit_logs (
    id            BIGSERIAL PRIMARY KEY,
    project_id    BIGINT NOT NULL DEFAULT 0,
    username      TEXT COLLATE "C" NOT NULL DEFAULT '',
    resource      TEXT COLLATE "C" NOT NULL DEFAULT '',
    resource_type TEXT COLLATE "C" NOT NULL DEFAULT '',
    operation     TEXT COLLATE "C" NOT NULL DEFAULT '',
    source_ip     TEXT NOT NULL DEFAULT '',
    detail        TEXT NOT NULL DEFAULT '',
    op_time       TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_logs_op_time ON audit_logs (op_time);
CREATE INDEX audit_logs_project ON audit_logs (project_id, op_time);
CREATE INDEX audit_logs_username ON audit_logs (username);

CREATE TABLE sessions (
    token_hash TEXT NOT NULL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
