"""The tamper-evident audit log: hash chains per organization, their verification, and signed checkpoints."""
