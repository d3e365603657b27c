-- The built-in scanner's vulnerability database (OSV records). Each
-- import writes a new generation beside the one in use and then, in one
-- transaction, makes it current; a failed import leaves a 'loading'
-- generation that the next import deletes, and the old one stays in use.
-- Times are INTEGER unix nanoseconds (UTC).

CREATE TABLE vulndb_generations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    state       TEXT NOT NULL CHECK (state IN ('loading', 'current', 'retired')),
    source      TEXT NOT NULL DEFAULT '',
    checksum    TEXT NOT NULL DEFAULT '',
    records     INTEGER NOT NULL DEFAULT 0,
    ecosystems  TEXT NOT NULL DEFAULT '{}',
    updated_at  INTEGER,
    started_at  INTEGER NOT NULL,
    imported_at INTEGER
);
CREATE INDEX vulndb_generations_state ON vulndb_generations (state);

-- One advisory: data is the OSV JSON record, gzip-compressed.
CREATE TABLE vulndb_records (
    generation INTEGER NOT NULL,
    id         TEXT NOT NULL,
    modified   INTEGER,
    data       BLOB NOT NULL,
    PRIMARY KEY (generation, id)
);

-- Which records name which package: ecosystem as OSV writes it
-- ("Debian:12", "Go"), name normalised for the ecosystem.
CREATE TABLE vulndb_affected (
    generation INTEGER NOT NULL,
    ecosystem  TEXT NOT NULL,
    name       TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    PRIMARY KEY (generation, ecosystem, name, record_id)
);

-- One row: who refreshes the database from its URL now, so that one
-- node of many does it.
CREATE TABLE vulndb_lease (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    holder     TEXT NOT NULL DEFAULT '',
    expires_at INTEGER NOT NULL DEFAULT 0
);
INSERT INTO vulndb_lease (id) VALUES (1);
