-- A patient's page retries a submit whose answer it never received (the connection dropped
-- after the commit): the SHA-256 of the Idempotency-Key it sent lets the server recognise its
-- own earlier submission and answer as the first time. Only the hash is stored.

ALTER TABLE consent_form ADD COLUMN submit_key_hash TEXT;
