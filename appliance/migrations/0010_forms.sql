-- Form catalogue (issue 17): the practice's own text block per consent type, kept as immutable
-- revisions, and what a consent form names of the published content: the catalogue form and
-- version fixed when the link is made, the practice-text revision of that moment, and on submit
-- the locale and formHash the patient's page showed. All of it names public text, not the patient.

CREATE TABLE practice_form_text (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL REFERENCES practice (id),
    type TEXT NOT NULL CHECK (type IN ('BOTOX', 'FILLER', 'LASER', 'CHEMICAL_PEEL',
                                       'MICRONEEDLING', 'PRP')),
    revision INTEGER NOT NULL CHECK (revision >= 1),
    -- NULL title and paragraphs: the practice removed its text in this revision.
    title TEXT,
    paragraphs TEXT,
    created_by @UUID@,
    created_at @TS@ NOT NULL,
    UNIQUE (practice_id, type, revision)
);

ALTER TABLE consent_form ADD COLUMN form_id TEXT;
ALTER TABLE consent_form ADD COLUMN form_version INTEGER;
ALTER TABLE consent_form ADD COLUMN practice_text_id @UUID@ REFERENCES practice_form_text (id);
ALTER TABLE consent_form ADD COLUMN form_locale TEXT;
ALTER TABLE consent_form ADD COLUMN form_hash TEXT;
-- Forms made before the catalogue existed name its first version.
UPDATE consent_form SET form_id = replace(lower(type), '_', '-'), form_version = 1;
