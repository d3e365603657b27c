-- Content trust: the cosign public keys and Notation trust-store
-- certificates a project trusts. When a project has entries of a format,
-- a signature of that format counts only if it verifies against one of
-- them (berth's strict content trust). The PEM is kept as given; the
-- fingerprint identifies it in the API and in signature reports.

CREATE TABLE trust_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    name        TEXT NOT NULL,
    pem         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (project_id, type, name)
);
