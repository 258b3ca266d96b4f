"""The consent form catalogue: versioned, immutable form definitions shipped as data files."""
