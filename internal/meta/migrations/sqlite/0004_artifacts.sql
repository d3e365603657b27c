-- What Harbor's repository, artifact and tag API shows beyond the OCI
-- rows: repository descriptions and pull counts, stable integer ids for
-- artifacts (manifests) and tags, pull times, and a cache of each
-- artifact's extra attributes (a summary of its config blob, which never
-- changes for a digest). Times are INTEGER unix nanoseconds, NULL for
-- "never"; extra_attrs is JSON, NULL until first computed.

ALTER TABLE repositories ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE repositories ADD COLUMN pull_count INTEGER NOT NULL DEFAULT 0;

ALTER TABLE manifests ADD COLUMN id INTEGER;
ALTER TABLE manifests ADD COLUMN pulled_at INTEGER;
ALTER TABLE manifests ADD COLUMN extra_attrs TEXT;

ALTER TABLE tags ADD COLUMN id INTEGER;
ALTER TABLE tags ADD COLUMN pulled_at INTEGER;

-- SQLite cannot add an autoincrement column to a table, so ids come from
-- a counter that only grows: an id is never reused, even after the row
-- with the highest one is deleted. The triggers give every new row one,
-- whichever statement inserts it.
CREATE TABLE id_sequences (
    name  TEXT NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
);

UPDATE manifests SET id = rowid;
UPDATE tags SET id = rowid;
INSERT INTO id_sequences (name, value) VALUES
    ('manifests', (SELECT coalesce(max(id), 0) FROM manifests)),
    ('tags', (SELECT coalesce(max(id), 0) FROM tags));

CREATE UNIQUE INDEX manifests_id ON manifests (id);
CREATE UNIQUE INDEX tags_id ON tags (id);

CREATE TRIGGER manifests_assign_id AFTER INSERT ON manifests FOR EACH ROW WHEN NEW.id IS NULL
BEGIN
    UPDATE id_sequences SET value = value + 1 WHERE name = 'manifests';
    UPDATE manifests SET id = (SELECT value FROM id_sequences WHERE name = 'manifests')
        WHERE repo_id = NEW.repo_id AND digest = NEW.digest;
END;

CREATE TRIGGER tags_assign_id AFTER INSERT ON tags FOR EACH ROW WHEN NEW.id IS NULL
BEGIN
    UPDATE id_sequences SET value = value + 1 WHERE name = 'tags';
    UPDATE tags SET id = (SELECT value FROM id_sequences WHERE name = 'tags')
        WHERE repo_id = NEW.repo_id AND name = NEW.name;
END;

-- Artifact listings default to the newest push first.
CREATE INDEX manifests_repo_created ON manifests (repo_id, created_at, id);
