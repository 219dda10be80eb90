"""The JSON API's edge: rate limits per API key, user, organization and (for strangers) address, and idempotency
keys on writes — applied once, in the request pipeline, to every /api/v1 route."""
