-- Single sign-on: user groups (Harbor's usergroup), which users belong to
-- which group (learned from the identity provider at each login), the
-- external identity of users who came from OIDC or LDAP, and an OIDC
-- user's refresh token and CLI secret. Group project members use
-- project_members with entity_type 'g' (0003).

-- group_type: 1 LDAP, 2 HTTP, 3 OIDC, as Harbor numbers them. LDAP groups
-- are unique by DN (dn_key, lower-cased by the store), the others by name
-- within their type; dn_key is NULL for them.
CREATE TABLE user_groups (
    id            BIGSERIAL PRIMARY KEY,
    group_name    TEXT COLLATE "C" NOT NULL,
    group_type    INTEGER NOT NULL CHECK (group_type IN (1, 2, 3)),
    ldap_group_dn TEXT COLLATE "C" NOT NULL DEFAULT '',
    dn_key        TEXT COLLATE "C",
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CHECK ((group_type = 1) = (dn_key IS NOT NULL))
);
CREATE UNIQUE INDEX user_groups_name ON user_groups (group_type, group_name) WHERE group_type <> 1;
CREATE UNIQUE INDEX user_groups_dn ON user_groups (dn_key) WHERE group_type = 1;

CREATE TABLE user_group_members (
    user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX user_group_members_group ON user_group_members (group_id);

-- One row per user who came from an identity provider: OIDC (issuer and
-- subject of its ID token) or LDAP (issuer '' or the server, subject the
-- user's DN). refresh_token and cli_secret are sealed (AES-GCM) by the
-- access service; cli_secret_hash is the SHA-256 of the CLI secret, hex,
-- compared in constant time. verified_at is when the provider last
-- vouched for the user (login or refresh).
CREATE TABLE user_identities (
    user_id         BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    source          TEXT COLLATE "C" NOT NULL CHECK (source IN ('oidc', 'ldap')),
    issuer          TEXT COLLATE "C" NOT NULL,
    subject         TEXT COLLATE "C" NOT NULL,
    refresh_token   BYTEA NOT NULL DEFAULT ''::bytea,
    verified_at     TIMESTAMPTZ NOT NULL,
    cli_secret      BYTEA NOT NULL DEFAULT ''::bytea,
    cli_secret_hash TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (source, issuer, subject)
);

-- OIDC sign-ins in progress: the hash of each state handed to the
-- provider, so that a callback is accepted once, on any node.
CREATE TABLE oidc_states (
    state_hash TEXT NOT NULL PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
