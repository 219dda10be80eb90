"""Stripe through its official SDK (`stripe.StripeClient`, async over httpx), at `STRIPE_API_BASE`.

Prices are sent inline (`price_data`) from our plan version, so no price ids need configuring; our organization,
plan and checkout ids travel as metadata and come back on every subscription event. What Stripe then does is
learned from its webhooks, like every provider's."""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from webapp.billing.enums import Interval
from webapp.billing.models import Checkout, Plan, Subscription


@dataclass(frozen=True)
class StripeConfig:
    """How to reach Stripe: the secret key, the API base (https://api.stripe.com, or a local server in tests) and
    where its checkout sends people back."""

    api_key: str
    api_base: str
    return_url: str


def config_of(settings) -> StripeConfig:
    """The Stripe configuration from the environment's settings; a Conflict when no key is set."""
    from webapp.core.errors import Conflict

    if not settings.stripe_api_key:
        raise Conflict("Stripe is not set up on this server (STRIPE_API_KEY).")
    return StripeConfig(settings.stripe_api_key, settings.stripe_api_base, settings.base_url)


def _client(config: StripeConfig) -> stripe.StripeClient:
    return stripe.StripeClient(
        config.api_key,
        base_addresses={"api": config.api_base},
        http_client=stripe.HTTPXClient(),
        max_network_retries=2,  # the SDK's idempotency keys make its retries safe
    )


def _price_data(plan: Plan, interval: Interval) -> dict:
    yearly = interval == Interval.YEAR
    return {
        "currency": plan.currency.lower(),
        "unit_amount": plan.yearly_price_minor if yearly else plan.monthly_price_minor,
        "recurring": {"interval": interval.value},
        "product_data": {"name": f"ClosedLoop {plan.name}", "metadata": {"plan_key": plan.key}},
    }


def _seat_price_data(plan: Plan, interval: Interval) -> dict:
    months = 12 if interval == Interval.YEAR else 1
    return {
        "currency": plan.currency.lower(),
        "unit_amount": plan.seat_price_minor * months,
        "recurring": {"interval": interval.value},
        "product_data": {"name": f"ClosedLoop {plan.name} extra seat"},
    }


def _line_items(plan: Plan, interval: Interval, seats: int) -> list[dict]:
    items = [{"price_data": _price_data(plan, interval), "quantity": 1}]
    if seats > plan.included_seats:
        items.append({"price_data": _seat_price_data(plan, interval), "quantity": seats - plan.included_seats})
    return items


async def open_checkout(config: StripeConfig, checkout: Checkout, plan: Plan, org_slug: str) -> tuple[str, str]:
    """A Stripe Checkout Session for the plan; its id and the hosted page's URL."""
    metadata = {"organization_id": str(checkout.organization_id), "plan_id": str(plan.id),
                "interval": checkout.interval.value, "checkout_id": str(checkout.id),
                "seats": str(checkout.seats)}  # fmt: skip
    session = await _client(config).v1.checkout.sessions.create_async(
        {
            "mode": "subscription",
            "line_items": _line_items(plan, checkout.interval, checkout.seats),
            "client_reference_id": str(checkout.organization_id),
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
            "success_url": f"{config.return_url}/o/{org_slug}/billing?pending={checkout.id}",
            "cancel_url": f"{config.return_url}/o/{org_slug}/billing",
        },
        {"idempotency_key": f"checkout-{checkout.id}"},
    )
    return session.id, session.url


async def change(config: StripeConfig, sub: Subscription, plan: Plan, seats: int, interval: Interval) -> None:
    """Move the subscription to the plan, seats and interval, prorated by Stripe ("always_invoice": charged now)."""
    client = _client(config)
    current = await client.v1.subscriptions.retrieve_async(sub.provider_subscription_id)
    items = [{"id": item.id, "deleted": True} for item in current["items"]["data"]]
    items += _line_items(plan, interval, seats)
    await client.v1.subscriptions.update_async(
        sub.provider_subscription_id,
        {
            "items": items,
            "proration_behavior": "always_invoice",
            "metadata": {
                "organization_id": str(sub.organization_id),
                "plan_id": str(plan.id),
                "interval": interval.value,
                "seats": str(seats),
            },  # fmt: skip
        },
    )


async def set_cancel(config: StripeConfig, sub: Subscription, cancel: bool) -> None:
    """End with the period (or not)."""
    await _client(config).v1.subscriptions.update_async(sub.provider_subscription_id, {"cancel_at_period_end": cancel})


async def set_seats(config: StripeConfig, sub: Subscription, seats: int) -> None:
    """Set the paid seats: the extra-seat item's quantity (added or removed as seats cross what is included)."""
    await change(config, sub, sub.plan, seats, sub.interval)


async def retrieve(config: StripeConfig, subscription_id: str) -> dict:
    """Stripe's subscription as it is now (a plain dict, the shape its events carry)."""
    found = await _client(config).v1.subscriptions.retrieve_async(subscription_id)
    return found.to_dict()


async def portal_url(config: StripeConfig, customer_id: str, org_slug: str) -> str:
    """A Stripe customer portal session, where the customer changes the card on file; its URL."""
    found = await _client(config).v1.billing_portal.sessions.create_async(
        {"customer": customer_id, "return_url": f"{config.return_url}/o/{org_slug}/billing"}
    )
    return found.url
