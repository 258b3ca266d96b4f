-- The archive copy of a completed consent: a PDF the staff client made, encrypted to the
-- practice key (purpose consent.archive, bound to the consent form) and signed by the practice.
-- The ciphertext lives in the object store under {practice_id}/archives/{id}; one per consent
-- form, written once. The server never sees the PDF.
CREATE TABLE consent_archive (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL REFERENCES practice (id),
    consent_form_id @UUID@ NOT NULL UNIQUE REFERENCES consent_form (id),
    wrapped_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    uploaded_by @UUID@,
    created_at @TS@ NOT NULL
);
