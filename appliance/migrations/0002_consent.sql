-- Practice settings, patients (identity sealed to the practice key, found by lookup_hash)
-- and consent forms (answers encrypted by the patient's client, token stored as a hash).

ALTER TABLE practice ADD COLUMN enabled_consent_types TEXT NOT NULL
    DEFAULT '["BOTOX","CHEMICAL_PEEL","FILLER","LASER","MICRONEEDLING","PRP"]';
ALTER TABLE practice ADD COLUMN default_consent_expiry_days INTEGER NOT NULL DEFAULT 7;
ALTER TABLE practice ADD COLUMN brand_color TEXT NOT NULL DEFAULT '#0f766e';
ALTER TABLE practice ADD COLUMN timezone TEXT NOT NULL DEFAULT 'Europe/Berlin';
ALTER TABLE practice ADD COLUMN locale TEXT NOT NULL DEFAULT 'de';
ALTER TABLE practice ADD COLUMN public_base_url TEXT;

CREATE TABLE patient (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL REFERENCES practice (id),
    lookup_hash TEXT NOT NULL,
    encrypted_first_name TEXT NOT NULL,
    encrypted_last_name TEXT NOT NULL,
    encrypted_date_of_birth TEXT NOT NULL,
    encrypted_email TEXT,
    encrypted_phone TEXT,
    created_at @TS@ NOT NULL,
    updated_at @TS@ NOT NULL,
    UNIQUE (practice_id, lookup_hash)
);
CREATE INDEX patient_practice_created_idx ON patient (practice_id, created_at);

CREATE TABLE consent_form (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL REFERENCES practice (id),
    patient_id @UUID@ REFERENCES patient (id),
    created_by @UUID@,
    type TEXT NOT NULL CHECK (type IN ('BOTOX', 'FILLER', 'LASER', 'CHEMICAL_PEEL',
                                       'MICRONEEDLING', 'PRP')),
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'SIGNED', 'PAID', 'COMPLETED',
                                           'EXPIRED', 'REVOKED')),
    token_hash TEXT NOT NULL UNIQUE,
    locale TEXT NOT NULL,
    created_at @TS@ NOT NULL,
    expires_at @TS@ NOT NULL,
    signed_at @TS@,
    revoked_at @TS@,
    revoked_by TEXT CHECK (revoked_by IN ('PRACTICE', 'PATIENT')),
    revoke_reason TEXT,
    encrypted_answers @BLOB@,
    wrapped_key TEXT,
    signature_ip TEXT,
    signature_user_agent TEXT,
    comprehension TEXT,
    updated_at @TS@ NOT NULL
);
CREATE INDEX consent_form_practice_created_idx ON consent_form (practice_id, created_at);
CREATE INDEX consent_form_practice_status_idx ON consent_form (practice_id, status, created_at);
CREATE INDEX consent_form_practice_type_idx ON consent_form (practice_id, type, created_at);
CREATE INDEX consent_form_patient_idx ON consent_form (patient_id);
CREATE INDEX consent_form_expiry_idx ON consent_form (status, expires_at);
