"""Numbered SQL migrations; see appliance.migrator."""
