"""Usage: what organizations use (metering, rollups, overages) and the credits they spend on it (the ledger)."""
