"""Domain rules, one transaction per use case."""
