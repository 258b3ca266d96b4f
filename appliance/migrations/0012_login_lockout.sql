-- Login lockout by a keyed hash of the e-mail address, the same for addresses with and without
-- an account: a lockout only real accounts got told an attacker which addresses have one.
-- Counters kept on app_user move here (counts in progress at the upgrade start again at zero).

CREATE TABLE login_lockout (
    email_hash TEXT PRIMARY KEY,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until @TS@,
    updated_at @TS@ NOT NULL
);
CREATE INDEX login_lockout_updated_idx ON login_lockout (updated_at);

ALTER TABLE app_user DROP COLUMN failed_logins;
ALTER TABLE app_user DROP COLUMN locked_until;
