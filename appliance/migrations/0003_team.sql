-- Team invitations: an ADMIN invites an e-mail address with a role; the mailed token (stored
-- only as its SHA-256) lets that person join once, within 7 days, unless revoked.

CREATE TABLE team_invite (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL REFERENCES practice (id),
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('ADMIN', 'ARZT', 'EMPFANG')),
    token_hash TEXT NOT NULL UNIQUE,
    invited_by @UUID@,
    created_at @TS@ NOT NULL,
    expires_at @TS@ NOT NULL,
    email_sent_at @TS@,
    accepted_at @TS@,
    accepted_by @UUID@,
    revoked_at @TS@
);
CREATE INDEX team_invite_practice_created_idx ON team_invite (practice_id, created_at);
CREATE INDEX team_invite_practice_email_idx ON team_invite (practice_id, email);
