-- Minutes without use after which staff clients lock the vault (forget the secret keys held
-- in memory); a practice setting, readable by every member (GET /api/practice).
ALTER TABLE practice ADD COLUMN vault_idle_minutes INTEGER NOT NULL DEFAULT 15;
