-- Settings and secrets that every node must share: the generated TLS CA
-- and server certificate today, signing keys later. Values are opaque
-- bytes to the store; their owners give them meaning and format.

CREATE TABLE settings (
    key        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    value      BYTEA NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
