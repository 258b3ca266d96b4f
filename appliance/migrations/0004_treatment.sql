-- Treatment templates (practice knowledge, stored in clear) and treatment plans (what was
-- done to a patient, encrypted by the staff client to the practice key).

CREATE TABLE treatment_template (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL REFERENCES practice (id),
    name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('BOTOX', 'FILLER', 'LASER', 'CHEMICAL_PEEL',
                                       'MICRONEEDLING', 'PRP')),
    body_region TEXT NOT NULL,
    diagram_type TEXT NOT NULL,
    points TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    created_by @UUID@,
    created_at @TS@ NOT NULL,
    updated_at @TS@ NOT NULL
);
-- One name per practice and consent type; the index also settles concurrent creates.
CREATE UNIQUE INDEX treatment_template_name_idx ON treatment_template (practice_id, type, name);

-- patient_id has no cascade: erasing a patient must delete (and count) their plans
-- explicitly, as it does their consent forms. A deleted template or consent form only
-- unlinks the plan, which keeps its encrypted data.
CREATE TABLE treatment_plan (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL REFERENCES practice (id),
    patient_id @UUID@ NOT NULL REFERENCES patient (id),
    consent_form_id @UUID@ REFERENCES consent_form (id) ON DELETE SET NULL,
    template_id @UUID@ REFERENCES treatment_template (id) ON DELETE SET NULL,
    consent_type TEXT NOT NULL CHECK (consent_type IN ('BOTOX', 'FILLER', 'LASER',
                                                       'CHEMICAL_PEEL', 'MICRONEEDLING', 'PRP')),
    performed_at @TS@ NOT NULL,
    encrypted_plan @BLOB@ NOT NULL,
    wrapped_key TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_by @UUID@,
    updated_by @UUID@,
    created_at @TS@ NOT NULL,
    updated_at @TS@ NOT NULL
);
CREATE INDEX treatment_plan_patient_idx ON treatment_plan (practice_id, patient_id, performed_at);
CREATE INDEX treatment_plan_template_idx ON treatment_plan (template_id);
CREATE INDEX treatment_plan_consent_form_idx ON treatment_plan (consent_form_id);
