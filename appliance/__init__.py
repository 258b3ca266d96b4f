"""appliance: a self-hosted, zero-knowledge consent server for aesthetic practices."""

__version__ = "0.1.0"
