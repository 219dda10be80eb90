"""Polar through its official SDK (`polar-sdk`, API version 2026-10, async over httpx), at `POLAR_API_BASE`.

Polar sells products, not inline prices: each paid plan and interval is a Polar product with seat-based pricing,
named in `POLAR_PRODUCTS` (`crew:month=<product id>,…`); seats travel as Polar's `seats`. Our organization, plan and
checkout ids go on the checkout as metadata, which Polar copies to the subscription and sends back on every
subscription event. What Polar then does is learned from its webhooks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from polar.v2026_10 import PolarAsync

from webapp.billing.enums import Interval, Provider
from webapp.billing.models import Checkout, Payment, Plan, Subscription
from webapp.billing.providers import one_time_product_for, product_for, product_ids
from webapp.core.errors import Conflict

PRORATION = "invoice"  # Polar charges the difference at once, as Stripe's "always_invoice" does


def adapter(settings) -> "PolarAdapter":
    """The Polar adapter from the environment's settings; a Conflict when no access token is set."""
    if not settings.polar_access_token:
        raise Conflict("Polar is not set up on this server (POLAR_ACCESS_TOKEN).")
    return PolarAdapter(
        settings.polar_access_token, settings.polar_api_base, product_ids(settings.polar_products), settings.base_url
    )


def _metadata(org_id, plan: Plan, interval: Interval, seats: int, checkout_id=None) -> dict[str, str]:
    found = {"organization_id": str(org_id), "plan_id": str(plan.id), "interval": interval.value, "seats": str(seats)}
    if checkout_id is not None:
        found["checkout_id"] = str(checkout_id)
    return found


class PolarAdapter:
    """Polar's side of a subscription (see ProviderAdapter)."""

    provider = Provider.POLAR

    def __init__(self, token: str, api_base: str, products: dict, return_url: str) -> None:
        self.token, self.api_base, self.products, self.return_url = token, api_base, products, return_url

    def _client(self) -> PolarAsync:
        return PolarAsync(self.token, base_url=self.api_base, timeout=10.0)

    async def open_checkout(self, checkout: Checkout, plan: Plan, org_slug: str) -> tuple[str, str]:
        """A Polar checkout session for the plan's product with the seats preset; its id and URL."""
        product = product_for(self.products, "Polar", plan, checkout.interval)
        async with self._client() as polar:
            found = await polar.checkouts.create(
                products=[product],
                seats=checkout.seats,
                external_customer_id=str(checkout.organization_id),
                metadata=_metadata(checkout.organization_id, plan, checkout.interval, checkout.seats, checkout.id),
                success_url=f"{self.return_url}/o/{org_slug}/billing?pending={checkout.id}",
                return_url=f"{self.return_url}/o/{org_slug}/billing",
            )
        return found.id, found.url

    async def open_payment(self, payment: Payment, org_slug: str) -> tuple[str, str]:
        """A Polar checkout for the one-time product (unit-based pricing: the quantity is its units); id and URL."""
        product = one_time_product_for(self.products, "Polar", payment.product.value)
        async with self._client() as polar:
            found = await polar.checkouts.create(
                products=[product],
                units=payment.quantity,
                external_customer_id=str(payment.organization_id),
                metadata={"organization_id": str(payment.organization_id), "payment_id": str(payment.id)},
                success_url=f"{self.return_url}/o/{org_slug}/billing?paid={payment.id}",
                return_url=f"{self.return_url}/o/{org_slug}/billing",
            )
        return found.id, found.url

    async def change(self, sub: Subscription, plan: Plan, seats: int, interval: Interval) -> None:
        """Another product (plan or interval) and then the seats, each prorated and invoiced at once by Polar."""
        async with self._client() as polar:
            if plan.id != sub.plan_id or interval != sub.interval:
                await polar.subscriptions.update(
                    sub.provider_subscription_id,
                    product_id=product_for(self.products, "Polar", plan, interval),
                    proration_behavior=PRORATION,
                    metadata=_metadata(sub.organization_id, plan, interval, seats),
                )
            if seats != sub.provider_seats:
                await polar.subscriptions.update(
                    sub.provider_subscription_id, seats=seats, proration_behavior=PRORATION
                )

    async def set_cancel(self, sub: Subscription, cancel: bool) -> None:
        """End with the period (or not)."""
        async with self._client() as polar:
            await polar.subscriptions.update(sub.provider_subscription_id, cancel_at_period_end=cancel)

    async def set_seats(self, sub: Subscription, seats: int) -> None:
        """Polar's seat count for the subscription."""
        async with self._client() as polar:
            await polar.subscriptions.update(sub.provider_subscription_id, seats=seats, proration_behavior=PRORATION)

    async def fetch_event(self, subscription_id: str) -> tuple[str, dict]:
        """Polar's subscription now, as a `subscription.updated` (or `.revoked` once it has ended) event."""
        async with self._client() as polar:
            found = dataclasses.asdict(await polar.subscriptions.get(subscription_id))
        ended = found.get("status") == "canceled" and not found.get("cancel_at_period_end")
        kind = "subscription.revoked" if ended else "subscription.updated"
        return kind, {"type": kind, "timestamp": datetime.now(UTC).isoformat(), "data": found}

    async def portal_url(self, customer_id: str, org_slug: str) -> str:
        """A Polar customer session; its portal URL."""
        async with self._client() as polar:
            found = await polar.customer_sessions.create(
                customer_id=customer_id, return_url=f"{self.return_url}/o/{org_slug}/billing"
            )
        return found.customer_portal_url
