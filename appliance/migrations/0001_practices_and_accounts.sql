-- Practices (the tenants), their staff accounts, login sessions, rate limiting and the
-- audit log. Every table owned by a practice carries practice_id.

CREATE TABLE practice (
    id @UUID@ PRIMARY KEY,
    name TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    street TEXT NOT NULL DEFAULT '',
    postal_code TEXT NOT NULL DEFAULT '',
    city TEXT NOT NULL DEFAULT '',
    country TEXT NOT NULL DEFAULT 'DE',
    phone TEXT NOT NULL DEFAULT '',
    public_key TEXT NOT NULL,
    encrypted_priv_key TEXT NOT NULL,
    lookup_salt TEXT NOT NULL,
    created_at @TS@ NOT NULL,
    updated_at @TS@ NOT NULL
);

CREATE TABLE app_user (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ REFERENCES practice (id),
    role TEXT CHECK (role IN ('ADMIN', 'ARZT', 'EMPFANG')),
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT,
    sso_provider TEXT,
    sso_subject TEXT,
    totp_secret TEXT,
    totp_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    totp_last_step BIGINT NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until @TS@,
    joined_at @TS@,
    created_at @TS@ NOT NULL,
    CHECK ((practice_id IS NULL) = (role IS NULL))
);
CREATE INDEX app_user_practice_idx ON app_user (practice_id);
CREATE UNIQUE INDEX app_user_sso_idx ON app_user (sso_provider, sso_subject);

CREATE TABLE auth_session (
    id @UUID@ PRIMARY KEY,
    user_id @UUID@ NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    created_at @TS@ NOT NULL,
    expires_at @TS@ NOT NULL,
    revoked_at @TS@
);
CREATE INDEX auth_session_user_idx ON auth_session (user_id);
CREATE INDEX auth_session_expires_idx ON auth_session (expires_at);

CREATE TABLE rate_limit_hit (
    id @UUID@ PRIMARY KEY,
    bucket TEXT NOT NULL,
    at @TS@ NOT NULL
);
CREATE INDEX rate_limit_hit_bucket_idx ON rate_limit_hit (bucket, at);
CREATE INDEX rate_limit_hit_at_idx ON rate_limit_hit (at);

CREATE TABLE vault_challenge (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL REFERENCES practice (id) ON DELETE CASCADE,
    challenge_hash TEXT NOT NULL,
    expires_at @TS@ NOT NULL,
    used_at @TS@
);
CREATE INDEX vault_challenge_practice_idx ON vault_challenge (practice_id, expires_at);

-- Append-only and hash-chained: each practice's entries (and the system's, chain 'system')
-- are numbered by seq; hash = sha256(prev_hash || canonical content). The unique index makes
-- a forked chain impossible to store.
CREATE TABLE audit_log (
    id @UUID@ PRIMARY KEY,
    chain TEXT NOT NULL,
    seq BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    practice_id @UUID@ REFERENCES practice (id),
    user_id @UUID@,
    action TEXT NOT NULL,
    entity_type TEXT,
    entity_id TEXT,
    ip TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at @TS@ NOT NULL
);
CREATE UNIQUE INDEX audit_log_chain_seq_idx ON audit_log (chain, seq);
CREATE INDEX audit_log_practice_created_idx ON audit_log (practice_id, created_at);
CREATE INDEX audit_log_practice_action_idx ON audit_log (practice_id, action, created_at);
