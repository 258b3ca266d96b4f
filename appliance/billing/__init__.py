"""Billing: plans and limits (plans), their enforcement, and the Stripe gateway."""
