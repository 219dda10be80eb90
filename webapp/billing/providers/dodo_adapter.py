"""Dodo Payments through its official SDK (`dodopayments.AsyncDodoPayments`), at `DODO_API_BASE`.

Dodo sells products: each paid plan and interval is a Dodo subscription product priced per seat, named in
`DODO_PRODUCTS` (`crew:month=<product id>,…`); seats travel as the quantity. Our organization, plan and checkout
ids go on the checkout session as metadata, which Dodo keeps on the subscription and sends back on every event.
What Dodo then does is learned from its webhooks."""

from __future__ import annotations

from datetime import UTC, datetime

from dodopayments import AsyncDodoPayments

from webapp.billing.enums import Interval, Provider
from webapp.billing.models import Checkout, Payment, Plan, Subscription
from webapp.billing.providers import one_time_product_for, product_for, product_ids
from webapp.core.errors import Conflict

PRORATION = "prorated_immediately"  # the difference is charged now, as with Stripe and Polar
ENDED = {"cancelled": "subscription.cancelled", "expired": "subscription.expired"}


def adapter(settings) -> "DodoAdapter":
    """The Dodo adapter from the environment's settings; a Conflict when no API key is set."""
    if not settings.dodo_api_key:
        raise Conflict("Dodo Payments is not set up on this server (DODO_API_KEY).")
    return DodoAdapter(settings.dodo_api_key, settings.dodo_api_base, product_ids(settings.dodo_products),
                       settings.base_url)  # fmt: skip


def _metadata(org_id, plan: Plan, interval: Interval, seats: int, checkout_id=None) -> dict[str, str]:
    found = {"organization_id": str(org_id), "plan_id": str(plan.id), "interval": interval.value, "seats": str(seats)}
    if checkout_id is not None:
        found["checkout_id"] = str(checkout_id)
    return found


class DodoAdapter:
    """Dodo's side of a subscription (see ProviderAdapter)."""

    provider = Provider.DODO

    def __init__(self, api_key: str, api_base: str, products: dict, return_url: str) -> None:
        self.api_key, self.api_base, self.products, self.return_url = api_key, api_base, products, return_url

    def _client(self) -> AsyncDodoPayments:
        return AsyncDodoPayments(bearer_token=self.api_key, base_url=self.api_base, max_retries=2, timeout=10.0)

    async def open_checkout(self, checkout: Checkout, plan: Plan, org_slug: str) -> tuple[str, str]:
        """A Dodo checkout session for the plan's product, one unit per seat; its id and URL."""
        product = product_for(self.products, "Dodo", plan, checkout.interval)
        async with self._client() as dodo:
            found = await dodo.checkout_sessions.create(
                product_cart=[{"product_id": product, "quantity": checkout.seats}],
                metadata=_metadata(checkout.organization_id, plan, checkout.interval, checkout.seats, checkout.id),
                return_url=f"{self.return_url}/o/{org_slug}/billing?pending={checkout.id}",
                cancel_url=f"{self.return_url}/o/{org_slug}/billing",
            )
        return found.session_id, found.checkout_url

    async def open_payment(self, payment: Payment, org_slug: str) -> tuple[str, str]:
        """A Dodo checkout session for the one-time product at the quantity; its id and URL."""
        product = one_time_product_for(self.products, "Dodo", payment.product.value)
        async with self._client() as dodo:
            found = await dodo.checkout_sessions.create(
                product_cart=[{"product_id": product, "quantity": payment.quantity}],
                metadata={"organization_id": str(payment.organization_id), "payment_id": str(payment.id)},
                return_url=f"{self.return_url}/o/{org_slug}/billing?paid={payment.id}",
                cancel_url=f"{self.return_url}/o/{org_slug}/billing",
            )
        return found.session_id, found.checkout_url

    async def change(self, sub: Subscription, plan: Plan, seats: int, interval: Interval) -> None:
        """The plan's product at the seats as quantity, prorated and charged now (one call: Dodo's change_plan)."""
        async with self._client() as dodo:
            await dodo.subscriptions.change_plan(
                sub.provider_subscription_id,
                product_id=product_for(self.products, "Dodo", plan, interval),
                quantity=seats,
                proration_billing_mode=PRORATION,
                metadata=_metadata(sub.organization_id, plan, interval, seats),
            )

    async def set_cancel(self, sub: Subscription, cancel: bool) -> None:
        """End at the next billing date (or not)."""
        async with self._client() as dodo:
            await dodo.subscriptions.update(sub.provider_subscription_id, cancel_at_next_billing_date=cancel)

    async def set_seats(self, sub: Subscription, seats: int) -> None:
        """The same product at a new quantity."""
        await self.change(sub, sub.plan, seats, sub.interval)

    async def fetch_event(self, subscription_id: str) -> tuple[str, dict]:
        """Dodo's subscription now, as a `subscription.updated` (or `.cancelled` / `.expired`) event."""
        async with self._client() as dodo:
            found = (await dodo.subscriptions.retrieve(subscription_id)).to_dict(mode="json")
        kind = ENDED.get(found.get("status"), "subscription.updated")
        return kind, {"type": kind, "timestamp": datetime.now(UTC).isoformat(),
                      "data": {"payload_type": "Subscription", **found}}  # fmt: skip

    async def portal_url(self, customer_id: str, org_slug: str) -> str:
        """A Dodo customer portal session; its link."""
        async with self._client() as dodo:
            found = await dodo.customers.customer_portal.create(
                customer_id, return_url=f"{self.return_url}/o/{org_slug}/billing"
            )
        return found.link
