"""Client-side code: what runs where the vault password and the practice secret key live."""
