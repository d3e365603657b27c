-- Content trust: the cosign public keys and Notation trust-store
-- certificates a project trusts. When a project has entries of a format,
-- a signature of that format counts only if it verifies against one of
-- them (berth's strict content trust). The PEM is kept as given; the
-- fingerprint identifies it in the API and in signature reports.

CREATE TABLE trust_keys (
    id          BIGSERIAL PRIMARY KEY,
    project_id  BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    type        TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    pem         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (project_id, type, name)
);
