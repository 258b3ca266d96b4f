-- Crypto contract v2 (docs/crypto.md). No installation holds version 1 data, so nothing is
-- converted: these columns are filled by clients from now on.
--
-- The practice's Ed25519 public key: staff records carry a signature the readers check with
-- the key in the vault, and the server checks on write with this copy.
ALTER TABLE practice ADD COLUMN signing_key TEXT;
-- Staff signatures. NULL on a patient means the GDT import made it (the server has no
-- signing key); NULL on a consent form means no staff client has issued its link yet.
ALTER TABLE patient ADD COLUMN signature TEXT;
ALTER TABLE consent_form ADD COLUMN signature TEXT;
ALTER TABLE treatment_plan ADD COLUMN signature TEXT;
ALTER TABLE photo ADD COLUMN signature TEXT;
-- The hash of the link proof: what staff sign when they issue a link.
ALTER TABLE consent_form ADD COLUMN link_commitment TEXT;
-- What a patient submits about themselves: the identity sealed to the form, and its
-- lookupHash. A submission is never attached to a patient by that hash; staff decide after
-- decrypting.
ALTER TABLE consent_form ADD COLUMN identity TEXT;
ALTER TABLE consent_form ADD COLUMN lookup_hash TEXT;
-- The comprehension result moved inside the encrypted answers.
ALTER TABLE consent_form DROP COLUMN comprehension;
