"""Outgoing webhooks for tenants: endpoints, signed deliveries from an outbox, retries, logs, replay."""
