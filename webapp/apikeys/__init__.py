"""API keys: per member per organization, prefixed, hashed, scoped, expiring."""
