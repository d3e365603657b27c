-- The built-in scanner's vulnerability database (OSV records). Each
-- import writes a new generation beside the one in use and then, in one
-- transaction, makes it current; a failed import leaves a 'loading'
-- generation that the next import deletes, and the old one stays in use.

CREATE TABLE vulndb_generations (
    id          BIGSERIAL PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('loading', 'current', 'retired')),
    source      TEXT NOT NULL DEFAULT '',
    checksum    TEXT NOT NULL DEFAULT '',
    records     BIGINT NOT NULL DEFAULT 0,
    ecosystems  TEXT NOT NULL DEFAULT '{}',
    updated_at  TIMESTAMPTZ,
    started_at  TIMESTAMPTZ NOT NULL,
    imported_at TIMESTAMPTZ
);
CREATE INDEX vulndb_generations_state ON vulndb_generations (state);

-- One advisory: data is the OSV JSON record, gzip-compressed.
CREATE TABLE vulndb_records (
    generation BIGINT NOT NULL,
    id         TEXT NOT NULL,
    modified   TIMESTAMPTZ,
    data       BYTEA NOT NULL,
    PRIMARY KEY (generation, id)
);

-- Which records name which package: ecosystem as OSV writes it
-- ("Debian:12", "Go"), name normalised for the ecosystem.
CREATE TABLE vulndb_affected (
    generation BIGINT NOT NULL,
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
    expires_at TIMESTAMPTZ NOT NULL DEFAULT 'epoch'
);
INSERT INTO vulndb_lease (id) VALUES (1);
