"""Operations: health, readiness, version, metrics and the per-organization system check."""
