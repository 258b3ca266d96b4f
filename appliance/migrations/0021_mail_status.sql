-- Mail leaves the request (appliance/outbox.py): what became of the link mail of a consent
-- form or a team invite, for staff to see: pending, sent, or failed with a reason (fixed
-- words and SMTP codes, never the recipient). The mail itself stays in memory only.

ALTER TABLE consent_form ADD COLUMN mail_status TEXT;
ALTER TABLE consent_form ADD COLUMN mail_error TEXT;
ALTER TABLE consent_form ADD COLUMN mail_updated_at @TS@;
ALTER TABLE team_invite ADD COLUMN mail_status TEXT;
ALTER TABLE team_invite ADD COLUMN mail_error TEXT;
ALTER TABLE team_invite ADD COLUMN mail_updated_at @TS@;
