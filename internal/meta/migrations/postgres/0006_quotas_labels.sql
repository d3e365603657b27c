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
--
-- Every trigger path locks the project's project_usage row before it
-- touches project_blobs, and the quota check locks it FOR UPDATE too, so
-- concurrent links and unlinks in one project queue in a single order
-- (no deadlocks between them) and a check sees a settled total.

CREATE TABLE project_usage (
    project_id BIGINT NOT NULL PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    used       BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE project_blobs (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    digest     TEXT COLLATE "C" NOT NULL,
    size       BIGINT NOT NULL,
    links      BIGINT NOT NULL,
    PRIMARY KEY (project_id, digest)
);

CREATE FUNCTION project_blobs_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE project_usage SET used = used + NEW.size WHERE project_id = NEW.project_id;
    ELSE
        UPDATE project_usage SET used = used - OLD.size WHERE project_id = OLD.project_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER project_blobs_usage AFTER INSERT OR DELETE ON project_blobs
    FOR EACH ROW EXECUTE FUNCTION project_blobs_usage();

-- A repository's project is the part of its name before the first '/'.
CREATE FUNCTION repo_blobs_usage() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rid BIGINT;
    d   TEXT;
    pid BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        rid := NEW.repo_id;
        d := NEW.digest;
    ELSE
        rid := OLD.repo_id;
        d := OLD.digest;
    END IF;
    SELECT p.id INTO pid FROM repositories r
        JOIN projects p ON p.name = split_part(r.name, '/', 1) COLLATE "C"
        WHERE r.id = rid;
    IF pid IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM project_usage WHERE project_id = pid FOR UPDATE;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO project_blobs (project_id, digest, size, links)
            VALUES (pid, d, coalesce((SELECT size FROM blobs WHERE digest = d), 0), 1)
            ON CONFLICT (project_id, digest) DO UPDATE SET links = project_blobs.links + 1;
    ELSE
        UPDATE project_blobs SET links = links - 1 WHERE project_id = pid AND digest = d;
        DELETE FROM project_blobs WHERE project_id = pid AND digest = d AND links <= 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER repo_blobs_usage AFTER INSERT OR DELETE ON repo_blobs
    FOR EACH ROW EXECUTE FUNCTION repo_blobs_usage();

-- A repository's links go before the repository, while its name still
-- tells which project they count against (the cascade would come after).
CREATE FUNCTION repositories_unlink() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM repo_blobs WHERE repo_id = OLD.id;
    RETURN OLD;
END
$$;

CREATE TRIGGER repositories_unlink BEFORE DELETE ON repositories
    FOR EACH ROW EXECUTE FUNCTION repositories_unlink();

-- A new project starts from the links that already carry its name (there
-- are none unless repositories were pushed before their project existed).
CREATE FUNCTION projects_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO project_usage (project_id, used) VALUES (NEW.id, 0);
    INSERT INTO project_blobs (project_id, digest, size, links)
        SELECT NEW.id, l.digest, coalesce(max(b.size), 0), count(*)
        FROM repositories r JOIN repo_blobs l ON l.repo_id = r.id LEFT JOIN blobs b ON b.digest = l.digest
        WHERE r.name >= (NEW.name || '/') COLLATE "C" AND r.name < (NEW.name || '0') COLLATE "C"
        GROUP BY l.digest;
    RETURN NULL;
END
$$;

CREATE TRIGGER projects_usage AFTER INSERT ON projects
    FOR EACH ROW EXECUTE FUNCTION projects_usage();

INSERT INTO project_usage (project_id, used) SELECT id, 0 FROM projects;
INSERT INTO project_blobs (project_id, digest, size, links)
    SELECT p.id, l.digest, coalesce(max(b.size), 0), count(*)
    FROM projects p
    JOIN repositories r ON r.name >= (p.name || '/') COLLATE "C" AND r.name < (p.name || '0') COLLATE "C"
    JOIN repo_blobs l ON l.repo_id = r.id LEFT JOIN blobs b ON b.digest = l.digest
    GROUP BY p.id, l.digest;

-- Labels: global ones (scope 'g', no project) and project ones (scope
-- 'p'), unique by name within their scope; and the labels attached to
-- artifacts, which go with the artifact, the label or the project.
CREATE TABLE labels (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    color       TEXT NOT NULL DEFAULT '',
    scope       TEXT NOT NULL CHECK (scope IN ('g', 'p')),
    project_id  BIGINT REFERENCES projects (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CHECK ((scope = 'p') = (project_id IS NOT NULL))
);
CREATE UNIQUE INDEX labels_global_name ON labels (name) WHERE scope = 'g';
CREATE UNIQUE INDEX labels_project_name ON labels (project_id, name) WHERE scope = 'p';

CREATE TABLE artifact_labels (
    repo_id    BIGINT NOT NULL,
    digest     TEXT COLLATE "C" NOT NULL,
    label_id   BIGINT NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (repo_id, digest, label_id),
    FOREIGN KEY (repo_id, digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
);
CREATE INDEX artifact_labels_label ON artifact_labels (label_id);
