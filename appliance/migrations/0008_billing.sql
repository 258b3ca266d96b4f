-- Billing (used only when Stripe is configured): one subscription per practice, the Stripe
-- events already acted on (so that each takes effect once), and what practices paid.

-- The practice's plan and status as Stripe last told us. last_event_created is the `created`
-- (epoch seconds) of the newest subscription event applied: an older event arriving later is
-- ignored instead of overwriting newer state. A practice without a row is in its trial.
CREATE TABLE subscription (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL UNIQUE REFERENCES practice (id),
    plan TEXT NOT NULL CHECK (plan IN ('FREE_TRIAL', 'STARTER', 'PROFESSIONAL', 'ENTERPRISE')),
    billing_interval TEXT CHECK (billing_interval IN ('monthly', 'yearly')),
    status TEXT NOT NULL CHECK (status IN ('TRIALING', 'ACTIVE', 'PAST_DUE', 'CANCELLED', 'EXPIRED')),
    trial_ends_at @TS@ NOT NULL,
    current_period_start @TS@,
    current_period_end @TS@,
    cancel_at_period_end BOOLEAN NOT NULL DEFAULT FALSE,
    stripe_customer_id TEXT UNIQUE,
    stripe_subscription_id TEXT,
    last_event_created BIGINT,
    created_at @TS@ NOT NULL,
    updated_at @TS@ NOT NULL
);

-- Every Stripe event the webhook verified and acted on (or deliberately ignored), by id.
-- Holds no practice data, only what is needed to recognise a redelivery.
CREATE TABLE stripe_event (
    id @UUID@ PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    created BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    processed_at @TS@ NOT NULL
);

-- What a practice paid: one row per paid Stripe invoice (the revenue record).
CREATE TABLE payment (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL REFERENCES practice (id),
    stripe_invoice_id TEXT NOT NULL UNIQUE,
    stripe_subscription_id TEXT,
    plan TEXT,
    amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
    refunded_cents BIGINT NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
    currency TEXT NOT NULL,
    paid_at @TS@ NOT NULL,
    created_at @TS@ NOT NULL
);
CREATE INDEX payment_practice_paid_idx ON payment (practice_id, paid_at);
