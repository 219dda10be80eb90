"""Payment provider adapters: each speaks to its provider through the provider's official SDK, at a base URL from
the environment (a local recording server in tests). The sandbox needs none: it lives in webapp.billing.sandbox."""
