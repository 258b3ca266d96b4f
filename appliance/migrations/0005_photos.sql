-- Encrypted before/after photos, the practice logo, and the object-cleanup queue that keeps
-- the object store consistent with these rows.

-- The photo's bytes are an object under {practice_id}/photos/{id}; the row holds what the
-- server may know in clear plus the wrapped key and the sealed metadata. patient_id has no
-- cascade: erasing a patient deletes (and queues the objects of) their photos explicitly.
-- A deleted consent form or treatment plan only unlinks the photo.
CREATE TABLE photo (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL REFERENCES practice (id),
    patient_id @UUID@ NOT NULL REFERENCES patient (id),
    consent_form_id @UUID@ REFERENCES consent_form (id) ON DELETE SET NULL,
    treatment_plan_id @UUID@ REFERENCES treatment_plan (id) ON DELETE SET NULL,
    type TEXT NOT NULL CHECK (type IN ('BEFORE', 'AFTER')),
    body_region TEXT NOT NULL CHECK (body_region IN ('FOREHEAD', 'GLABELLA', 'PERIORBITAL',
        'CHEEKS', 'NASOLABIAL', 'LIPS', 'CHIN', 'JAWLINE', 'NECK', 'DECOLLETE', 'HANDS',
        'SCALP', 'OTHER')),
    taken_at @TS@ NOT NULL,
    wrapped_key TEXT NOT NULL,
    encrypted_metadata TEXT,
    photo_consent_granted BOOLEAN NOT NULL DEFAULT FALSE,
    size_bytes BIGINT NOT NULL,
    uploaded_by @UUID@,
    created_at @TS@ NOT NULL,
    updated_at @TS@ NOT NULL
);
CREATE INDEX photo_patient_idx ON photo (practice_id, patient_id, taken_at);
CREATE INDEX photo_consent_form_idx ON photo (consent_form_id);
CREATE INDEX photo_treatment_plan_idx ON photo (treatment_plan_id);

-- At most one logo per practice; its object is {practice_id}/logo/{id}. Stored in clear: the
-- patient page shows it before anyone could decrypt anything.
CREATE TABLE practice_logo (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL UNIQUE REFERENCES practice (id),
    content_type TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
    size_bytes BIGINT NOT NULL,
    uploaded_by @UUID@,
    created_at @TS@ NOT NULL
);

-- Objects that must go unless a committed row names them:
-- UPLOAD: written before an upload starts, deleted in the transaction that commits the row;
--         one still here after not_before belongs to an upload that failed or crashed.
-- DELETE: written in the transaction that deletes the row; the object is removed after the
--         commit, and by the sweep when the store failed then.
-- The sweep claims an entry by raising attempts (and not_before, for the next retry); an
-- upload only commits while attempts is 0, so the sweep and a slow upload cannot both win.
CREATE TABLE object_cleanup (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL REFERENCES practice (id),
    object_key TEXT NOT NULL UNIQUE,
    reason TEXT NOT NULL CHECK (reason IN ('UPLOAD', 'DELETE')),
    not_before @TS@ NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at @TS@ NOT NULL
);
CREATE INDEX object_cleanup_due_idx ON object_cleanup (not_before);
