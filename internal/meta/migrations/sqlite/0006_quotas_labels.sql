-- Project storage usage (Harbor's quotas) and labels.
--
-- A project uses the total size of the distinct blobs linked into its
-- repositories ("<project>/…"): a layer shared by two repositories of one
-- project counts once, and manifests (kept in the database) count nothing.
-- project_blobs counts, per project and digest, the repositories linking
-- it; project_usage.used is the sum of the sizes of its rows. Triggers on
-- repo_blobs keep both exact on every path that adds or removes a link
-- (push, mount, blob delete, repository delete, garbage collection), in the
-- transaction that changes the link, so usage never waits for GC. The hard
-- limit stays in projects.storage_limit (-1 unlimited).

CREATE TABLE project_usage (
    project_id INTEGER NOT NULL PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    used       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE project_blobs (
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    digest     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    links      INTEGER NOT NULL,
    PRIMARY KEY (project_id, digest)
);

CREATE TRIGGER project_blobs_added AFTER INSERT ON project_blobs
BEGIN
    UPDATE project_usage SET used = used + NEW.size WHERE project_id = NEW.project_id;
END;

CREATE TRIGGER project_blobs_removed AFTER DELETE ON project_blobs
BEGIN
    UPDATE project_usage SET used = used - OLD.size WHERE project_id = OLD.project_id;
END;

-- A repository's project is the part of its name before the first '/'.
CREATE TRIGGER repo_blobs_linked AFTER INSERT ON repo_blobs
BEGIN
    INSERT INTO project_blobs (project_id, digest, size, links)
        SELECT p.id, NEW.digest, coalesce((SELECT size FROM blobs WHERE digest = NEW.digest), 0), 1
        FROM repositories r JOIN projects p ON p.name = substr(r.name, 1, instr(r.name, '/') - 1)
        WHERE r.id = NEW.repo_id
        ON CONFLICT (project_id, digest) DO UPDATE SET links = links + 1;
END;

CREATE TRIGGER repo_blobs_unlinked AFTER DELETE ON repo_blobs
BEGIN
    UPDATE project_blobs SET links = links - 1
        WHERE project_id = (SELECT p.id FROM repositories r
            JOIN projects p ON p.name = substr(r.name, 1, instr(r.name, '/') - 1) WHERE r.id = OLD.repo_id)
        AND digest = OLD.digest;
    DELETE FROM project_blobs
        WHERE project_id = (SELECT p.id FROM repositories r
            JOIN projects p ON p.name = substr(r.name, 1, instr(r.name, '/') - 1) WHERE r.id = OLD.repo_id)
        AND digest = OLD.digest AND links <= 0;
END;

-- A repository's links go before the repository, while its name still
-- tells which project they count against (the cascade would come after).
CREATE TRIGGER repositories_unlink BEFORE DELETE ON repositories
BEGIN
    DELETE FROM repo_blobs WHERE repo_id = OLD.id;
END;

-- A new project starts from the links that already carry its name (there
-- are none unless repositories were pushed before their project existed).
CREATE TRIGGER projects_usage AFTER INSERT ON projects
BEGIN
    INSERT INTO project_usage (project_id, used) VALUES (NEW.id, 0);
    INSERT INTO project_blobs (project_id, digest, size, links)
        SELECT NEW.id, l.digest, coalesce(max(b.size), 0), count(*)
        FROM repositories r JOIN repo_blobs l ON l.repo_id = r.id LEFT JOIN blobs b ON b.digest = l.digest
        WHERE r.name >= NEW.name || '/' AND r.name < NEW.name || '0'
        GROUP BY l.digest;
END;

INSERT INTO project_usage (project_id, used) SELECT id, 0 FROM projects;
INSERT INTO project_blobs (project_id, digest, size, links)
    SELECT p.id, l.digest, coalesce(max(b.size), 0), count(*)
    FROM projects p JOIN repositories r ON r.name >= p.name || '/' AND r.name < p.name || '0'
    JOIN repo_blobs l ON l.repo_id = r.id LEFT JOIN blobs b ON b.digest = l.digest
    GROUP BY p.id, l.digest;

-- Labels: global ones (scope 'g', no project) and project ones (scope
-- 'p'), unique by name within their scope; and the labels attached to
-- artifacts, which go with the artifact, the label or the project.
CREATE TABLE labels (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    color       TEXT NOT NULL DEFAULT '',
    scope       TEXT NOT NULL CHECK (scope IN ('g', 'p')),
    project_id  INTEGER REFERENCES projects (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK ((scope = 'p') = (project_id IS NOT NULL))
);
CREATE UNIQUE INDEX labels_global_name ON labels (name) WHERE scope = 'g';
CREATE UNIQUE INDEX labels_project_name ON labels (project_id, name) WHERE scope = 'p';

CREATE TABLE artifact_labels (
    repo_id    INTEGER NOT NULL,
    digest     TEXT NOT NULL,
    label_id   INTEGER NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, digest, label_id),
    FOREIGN KEY (repo_id, digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
);
CREATE INDEX artifact_labels_label ON artifact_labels (label_id);
