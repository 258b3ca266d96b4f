-- Analytics: forms signed in a period are counted by signature time (GET /api/analytics/by-period),
-- a range on signed_at within one practice. The other analytics read the existing
-- (practice_id, created_at) index of consent_form and (practice_id, paid_at) of payment.
CREATE INDEX consent_form_practice_signed_idx ON consent_form (practice_id, signed_at);
