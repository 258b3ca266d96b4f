"""Helpers the test suite uses to reach real services."""
