-- Tenant queries lead with the practice: a practice's patients joined to their consent forms
-- read an index range of that practice, not every practice's forms with the same patient ids
-- (the foreign-key index on patient_id stays for the checks on patient deletes).

CREATE INDEX consent_form_practice_patient_idx ON consent_form (practice_id, patient_id);
