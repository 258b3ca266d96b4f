-- A practice's own Impressum and privacy notice (https URLs), linked from its patient pages;
-- without them the pages link the operator's (app.impressum_url, app.privacy_url).

ALTER TABLE practice ADD COLUMN impressum_url TEXT;
ALTER TABLE practice ADD COLUMN privacy_url TEXT;
