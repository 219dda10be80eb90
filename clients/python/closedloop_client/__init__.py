"""The ClosedLoop JSON API from Python: `Client` (typed answers, retries, idempotency keys, token refresh, live run
progress over server-sent events) and the `closedloop` command built on it."""

from closedloop_client.client import OPERATIONS, ApiError, Client, Operation

__all__ = ["OPERATIONS", "ApiError", "Client", "Operation"]
