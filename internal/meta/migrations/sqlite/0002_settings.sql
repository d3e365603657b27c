-- Settings and secrets that every node must share: the generated TLS CA
-- and server certificate today, signing keys later. Values are opaque
-- bytes to the store; their owners give them meaning and format.

CREATE TABLE settings (
    key        TEXT NOT NULL PRIMARY KEY,
    value      BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);
