"""Scheduled work (expiry, pruning, nightly audit exports), run exactly once across processes."""
