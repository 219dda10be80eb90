"""Payment provider adapters: each speaks to its provider through the provider's official SDK, at a base URL from
the environment (a local recording server in tests). They share one shape, `ProviderAdapter`, so the service, the
seat sync and reconciliation never ask which provider it is. The sandbox needs none: it lives in
webapp.billing.sandbox and answers with the events it will deliver."""

from __future__ import annotations

from typing import Protocol

from webapp.billing.enums import Interval, Provider
from webapp.billing.models import Checkout, Payment, Plan, Subscription
from webapp.core.errors import Conflict


class ProviderAdapter(Protocol):
    """What ClosedLoop asks of a payment provider. Every call asks for a change; the change itself is learned from
    the provider's webhooks, like everything the provider does."""

    provider: Provider

    async def open_checkout(self, checkout: Checkout, plan: Plan, org_slug: str) -> tuple[str, str]:
        """A hosted checkout for the plan; the provider's id for it and the URL the person pays at."""

    async def open_payment(self, payment: Payment, org_slug: str) -> tuple[str, str]:
        """A hosted checkout for a one-time purchase; the provider's reference for it and the URL it is paid at."""

    async def change(self, sub: Subscription, plan: Plan, seats: int, interval: Interval) -> None:
        """Move the subscription to the plan, seats and interval, prorated and charged now."""

    async def set_cancel(self, sub: Subscription, cancel: bool) -> None:
        """End the subscription with its period, or take that back."""

    async def set_seats(self, sub: Subscription, seats: int) -> None:
        """Set the paid seats (an absolute number, so repeating it changes nothing)."""

    async def fetch_event(self, subscription_id: str) -> tuple[str, dict]:
        """The subscription as the provider has it now, as an event of the provider's own dialect: its type and
        payload (what reconciliation stores and applies like a webhook)."""

    async def portal_url(self, customer_id: str, org_slug: str) -> str:
        """The provider's customer portal, where the card on file is changed; its URL."""


def product_ids(raw: str) -> dict[tuple[str, Interval | None], str]:
    """Parse `plan:interval=product_id` pairs and `one_time_product=product_id` ones, comma-separated (e.g.
    `crew:month=prod_1,crew:year=prod_2,simulation_credits=prod_3`)."""
    found: dict[tuple[str, Interval | None], str] = {}
    for part in raw.split(","):
        key, _, product = part.strip().partition("=")
        name, _, interval = (piece.strip() for piece in key.partition(":"))
        if not name or not product.strip():
            continue
        if interval in ("month", "year"):
            found[(name, Interval(interval))] = product.strip()
        elif not interval:
            found[(name, None)] = product.strip()
    return found


def product_for(products: dict, provider: str, plan: Plan, interval: Interval) -> str:
    """The provider's product for the plan and interval; a Conflict naming the setting when none is configured."""
    try:
        return products[(plan.key, interval)]
    except KeyError:
        raise Conflict(
            f"{provider} has no product for the {plan.name} plan billed per {interval.value} on this server "
            f"({provider.upper()}_PRODUCTS needs {plan.key}:{interval.value}=<product id>)."
        ) from None


def one_time_product_for(products: dict, provider: str, product: str) -> str:
    """The provider's product for a one-time purchase; a Conflict naming the setting when none is configured."""
    try:
        return products[(product, None)]
    except KeyError:
        raise Conflict(
            f"{provider} has no product for {product} on this server ({provider.upper()}_PRODUCTS needs "
            f"{product}=<product id>)."
        ) from None


def adapter_for(provider: Provider | str, settings) -> ProviderAdapter:
    """The adapter for a real provider, configured from the settings; a Conflict when it is not set up here."""
    from webapp.billing.providers import dodo_adapter, polar_adapter, stripe_adapter

    makers = {Provider.STRIPE: stripe_adapter.adapter, Provider.POLAR: polar_adapter.adapter,
              Provider.DODO: dodo_adapter.adapter}  # fmt: skip
    try:
        make = makers[Provider(provider)]
    except (KeyError, ValueError):
        raise Conflict(f"{provider} is not a payment provider this server can call.") from None
    return make(settings)
