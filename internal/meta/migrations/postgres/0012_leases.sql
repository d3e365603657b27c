-- The lease that lets one node at a time replace the generated server
-- certificate (as gc_lease does for garbage collection). holder is empty
-- when nobody holds it; a holder that dies loses it at expires_at.
CREATE TABLE tls_lease (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    holder     TEXT NOT NULL DEFAULT '',
    expires_at TIMESTAMPTZ NOT NULL DEFAULT '1970-01-01 00:00:00+00'
);
INSERT INTO tls_lease (id) VALUES (1);

-- The writer claim of an upload session: the request (on any node) that
-- is writing the session's bytes, until writer_until, after which a
-- writer that died no longer holds it. '' when none.
ALTER TABLE uploads ADD COLUMN writer TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN writer_until TIMESTAMPTZ NOT NULL DEFAULT '1970-01-01 00:00:00+00';
