"""Privacy: data subject requests (and, later, consents, the data registry and retention)."""
