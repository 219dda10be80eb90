"""Billing's closed vocabularies."""

from enum import StrEnum


class PlanStatus(StrEnum):
    """current: offered now; superseded: an older version subscriptions may still hold; retired: no longer offered."""

    CURRENT = "current"
    SUPERSEDED = "superseded"
    RETIRED = "retired"


class Metric(StrEnum):
    """What usage is counted in (each plan includes some of each and may price what goes beyond)."""

    SIMULATION_RUNS = "simulation_runs"
    MONTE_CARLO_SCENARIOS = "monte_carlo_scenarios"
    STORAGE_GB = "storage_gb"
    API_CALLS = "api_calls"


METRIC_LABELS = {
    Metric.SIMULATION_RUNS: "Simulation runs",
    Metric.MONTE_CARLO_SCENARIOS: "Monte Carlo scenarios",
    Metric.STORAGE_GB: "File storage (GB)",
    Metric.API_CALLS: "API calls",
}


class SubscriptionStatus(StrEnum):
    """The providers' common states (Stripe's names): what an organization's subscription is in now."""

    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    PAUSED = "paused"
    CANCELED = "canceled"
    INCOMPLETE = "incomplete"


class Interval(StrEnum):
    """How often a subscription is billed."""

    MONTH = "month"
    YEAR = "year"


class Provider(StrEnum):
    """Who collects the money. The sandbox is built in: its checkout completes locally and it signs its events the
    way Stripe does, so they take the same path as a real provider's."""

    SANDBOX = "sandbox"
    STRIPE = "stripe"
    POLAR = "polar"
    DODO = "dodo"


class EventStatus(StrEnum):
    """A provider event's way through the worker: received, then processed, ignored (a type we do not act on, or
    about nothing we know) or failed (retried; the error is kept)."""

    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


class CheckoutStatus(StrEnum):
    """A checkout started with a provider: open until paid (completed), given up (canceled) or too old (expired)."""

    OPEN = "open"
    COMPLETED = "completed"
    CANCELED = "canceled"
    EXPIRED = "expired"


# states in which the organization has what its plan gives (past_due only within the grace period)
SERVING = frozenset({SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE})


class InvoiceStatus(StrEnum):
    """An invoice as the provider reports it: open (finalized, not yet paid), paid, void, uncollectible."""

    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


class InvoiceKind(StrEnum):
    """An invoice, or a credit note correcting one (a finalized invoice never changes)."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class LineKind(StrEnum):
    """What a line charges for: the subscription, usage beyond what is included, a plan or seat change's
    proration, or money given back."""

    SUBSCRIPTION = "subscription"
    USAGE = "usage"
    PRORATION = "proration"
    REFUND = "refund"


class PaymentStatus(StrEnum):
    """A one-time payment: pending until the provider confirms it, then succeeded or failed; refunded later."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


class OneTimeProduct(StrEnum):
    """What can be bought once."""

    SIMULATION_CREDITS = "simulation_credits"


# price of one unit of each product, in cents, and what a unit is
ONE_TIME_PRICES = {OneTimeProduct.SIMULATION_CREDITS: (1000, "1,000 simulation credits")}
