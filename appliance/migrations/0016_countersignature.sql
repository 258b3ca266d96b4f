-- A physician's countersignature (docs/crypto.md): the confirmation that the information talk
-- took place, encrypted to the practice key and bound to the consent form, signed by the
-- practice together with the digest of the answers it confirms. It moves the form from SIGNED
-- (or PAID) to COMPLETED; who and when are kept in clear for the lists and the audit.
ALTER TABLE consent_form ADD COLUMN countersignature @BLOB@;
ALTER TABLE consent_form ADD COLUMN countersignature_wrapped_key TEXT;
ALTER TABLE consent_form ADD COLUMN countersignature_signature TEXT;
ALTER TABLE consent_form ADD COLUMN countersigned_at @TS@;
ALTER TABLE consent_form ADD COLUMN countersigned_by @UUID@;
