"""Stripe through its official SDK (`stripe.StripeClient`, async over httpx), at `STRIPE_API_BASE`.

Prices are sent inline (`price_data`) from our plan version, so no price ids need configuring; our organization,
plan and checkout ids travel as metadata and come back on every subscription event. What Stripe then does is
learned from its webhooks, like every provider's."""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from webapp.billing.enums import ONE_TIME_PRICES, Interval, Provider
from webapp.billing.models import Checkout, Payment, Plan, Subscription
from webapp.core.errors import Conflict


@dataclass(frozen=True)
class StripeConfig:
    """How to reach Stripe: the secret key, the API base (https://api.stripe.com, or a local server in tests) and
    where its checkout sends people back."""

    api_key: str
    api_base: str
    return_url: str


def adapter(settings) -> "StripeAdapter":
    """The Stripe adapter from the environment's settings; a Conflict when no key is set."""
    if not settings.stripe_api_key:
        raise Conflict("Stripe is not set up on this server (STRIPE_API_KEY).")
    return StripeAdapter(StripeConfig(settings.stripe_api_key, settings.stripe_api_base, settings.base_url))


def _client(config: StripeConfig) -> stripe.StripeClient:
    return stripe.StripeClient(
        config.api_key,
        base_addresses={"api": config.api_base},
        http_client=stripe.HTTPXClient(timeout=10),  # the subscription row stays locked while Stripe answers
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


class StripeAdapter:
    """Stripe's side of a subscription (see ProviderAdapter)."""

    provider = Provider.STRIPE

    def __init__(self, config: StripeConfig) -> None:
        self.config = config
        self.client = _client(config)

    async def open_checkout(self, checkout: Checkout, plan: Plan, org_slug: str) -> tuple[str, str]:
        """A Stripe Checkout Session for the plan (idempotent per checkout); its id and the hosted page's URL."""
        metadata = {"organization_id": str(checkout.organization_id), "plan_id": str(plan.id),
                    "interval": checkout.interval.value, "checkout_id": str(checkout.id),
                    "seats": str(checkout.seats)}  # fmt: skip
        session = await self.client.v1.checkout.sessions.create_async(
            {
                "mode": "subscription",
                "line_items": _line_items(plan, checkout.interval, checkout.seats),
                "client_reference_id": str(checkout.organization_id),
                "metadata": metadata,
                "subscription_data": {"metadata": metadata},
                "success_url": f"{self.config.return_url}/o/{org_slug}/billing?pending={checkout.id}",
                "cancel_url": f"{self.config.return_url}/o/{org_slug}/billing",
            },
            {"idempotency_key": f"checkout-{checkout.id}"},
        )
        return session.id, session.url

    async def open_payment(self, payment: Payment, org_slug: str) -> tuple[str, str]:
        """A Stripe Checkout Session in payment mode, priced inline; its id and the hosted page's URL."""
        metadata = {"organization_id": str(payment.organization_id), "payment_id": str(payment.id)}
        unit = ONE_TIME_PRICES[payment.product][1]
        session = await self.client.v1.checkout.sessions.create_async(
            {
                "mode": "payment",
                "line_items": [
                    {
                        "quantity": payment.quantity,
                        "price_data": {
                            "currency": payment.currency.lower(),
                            "unit_amount": payment.unit_price_minor,
                            "product_data": {"name": f"ClosedLoop {unit}"},
                        },
                    }
                ],
                "client_reference_id": str(payment.organization_id),
                "metadata": metadata,
                "payment_intent_data": {"metadata": metadata},
                "success_url": f"{self.config.return_url}/o/{org_slug}/billing?paid={payment.id}",
                "cancel_url": f"{self.config.return_url}/o/{org_slug}/billing",
            },  # fmt: skip
            {"idempotency_key": f"payment-{payment.id}"},
        )
        return session.id, session.url

    async def change(self, sub: Subscription, plan: Plan, seats: int, interval: Interval) -> None:
        """Replace the items with the plan's, prorated by Stripe ("always_invoice": charged now)."""
        current = await self.client.v1.subscriptions.retrieve_async(sub.provider_subscription_id)
        items = [{"id": item.id, "deleted": True} for item in current["items"]["data"]]
        items += _line_items(plan, interval, seats)
        await self.client.v1.subscriptions.update_async(
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

    async def set_cancel(self, sub: Subscription, cancel: bool) -> None:
        """End with the period (or not)."""
        await self.client.v1.subscriptions.update_async(sub.provider_subscription_id, {"cancel_at_period_end": cancel})

    async def set_seats(self, sub: Subscription, seats: int) -> None:
        """The extra-seat item's quantity (added or removed as seats cross what is included)."""
        await self.change(sub, sub.plan, seats, sub.interval)

    async def fetch_event(self, subscription_id: str) -> tuple[str, dict]:
        """Stripe's subscription now, as a `customer.subscription.updated` (or `.deleted`) event."""
        found = (await self.client.v1.subscriptions.retrieve_async(subscription_id)).to_dict()
        kind = "customer.subscription.deleted" if found.get("status") == "canceled" else "customer.subscription.updated"
        return kind, {"object": "event", "type": kind, "data": {"object": found}}

    async def portal_url(self, customer_id: str, org_slug: str) -> str:
        """A Stripe customer portal session; its URL."""
        found = await self.client.v1.billing_portal.sessions.create_async(
            {"customer": customer_id, "return_url": f"{self.config.return_url}/o/{org_slug}/billing"}
        )
        return found.url
