"""Plans: reading what is offered, and staff's changes. A change of prices, seats, limits or meters adds a version
(the old one is superseded; subscriptions keep the version they bought); a change of name or description is made in
place. Every change is audited."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing.enums import Metric, PlanStatus
from webapp.billing.models import Plan, PlanMeter
from webapp.core import audit
from webapp.core.errors import Conflict, Forbidden, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext, enable_rls_bypass

MAX_MINOR = 100_000_000  # a million dollars a month is not a plan, it is a typo
MAX_CREDITS = 10**12  # credits granted a month (Mission Control grants a million)
PRICED = (
    "monthly_price_minor",
    "yearly_price_minor",
    "seat_price_minor",
    "included_seats",
    "seat_limit",
    "mission_limit",
    "storage_limit_bytes",
    "monthly_run_limit",
    "monthly_credits",
    "api_requests_per_minute",
)
DESCRIBED = ("name", "description")


async def current_plans(session: AsyncSession) -> list[Plan]:
    """The plans offered now, cheapest first (each with its meters)."""
    stmt = (
        select(Plan)
        .where(Plan.status == PlanStatus.CURRENT)
        .order_by(Plan.monthly_price_minor, Plan.key)
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(stmt)).scalars())


async def plan_history(session: AsyncSession) -> dict[str, list[Plan]]:
    """Every version of every plan, newest first, by key."""
    rows = (await session.execute(select(Plan).order_by(Plan.key, Plan.version.desc()))).scalars()
    history: dict[str, list[Plan]] = {}
    for plan in rows:
        history.setdefault(plan.key, []).append(plan)
    return history


async def get_plan(session: AsyncSession, plan_id: uuid.UUID) -> Plan:
    """One plan version (old ones too: subscriptions name them); NotFound otherwise."""
    plan = (await session.execute(select(Plan).where(Plan.id == plan_id))).scalar_one_or_none()
    if plan is None:
        raise NotFound("No such plan.")
    return plan


def etag_of(plans: list[Plan]) -> str:
    """A strong validator of the offered plans: it changes with any version or edit."""
    digest = hashlib.sha256()
    for plan in plans:
        digest.update(f"{plan.id}:{plan.version}:{plan.updated_at.isoformat()}|".encode())
    return digest.hexdigest()[:32]


def _check(values: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in ("monthly_price_minor", "yearly_price_minor", "seat_price_minor"):
        value = values.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_MINOR:
            errors[name] = [f"Give a whole number of cents from 0 to {MAX_MINOR:,}."]
    seats = values.get("included_seats")
    if not isinstance(seats, int) or not 1 <= seats <= 100_000:
        errors["included_seats"] = ["At least one seat is included."]
    for name in ("seat_limit", "mission_limit", "storage_limit_bytes", "monthly_run_limit"):
        value = values.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            errors[name] = ["Leave empty for no limit, or give a whole number."]
    rate = values.get("api_requests_per_minute")
    if rate is not None and (not isinstance(rate, int) or isinstance(rate, bool) or not 1 <= rate <= 1_000_000):
        errors["api_requests_per_minute"] = ["Leave empty for the platform's limit, or give 1 to 1,000,000."]
    credits = values.get("monthly_credits")
    if not isinstance(credits, int) or isinstance(credits, bool) or not 0 <= credits <= MAX_CREDITS:
        errors["monthly_credits"] = [f"Give a whole number of credits from 0 to {MAX_CREDITS:,}."]
    if "seat_limit" not in errors and "included_seats" not in errors and values.get("seat_limit") is not None:
        if values["seat_limit"] < seats:
            errors["seat_limit"] = ["The seat limit cannot be below the included seats."]
    if not 1 <= len((values.get("name") or "").strip()) <= 80:
        errors["name"] = ["Name the plan (at most 80 characters)."]
    if len(values.get("description") or "") > 500:
        errors["description"] = ["At most 500 characters."]
    for metric, meter in (values.get("meters") or {}).items():
        included, unit, price = meter.get("included"), meter.get("unit_size"), meter.get("overage_price_minor")
        if not isinstance(included, int) or included < 0 or not isinstance(unit, int) or unit < 1:
            errors[f"meters.{metric}"] = ["Give what is included (0 or more) and a unit size of at least 1."]
        elif price is not None and (not isinstance(price, int) or not 0 <= price <= MAX_MINOR):
            errors[f"meters.{metric}"] = ["Give the overage price in whole cents, or leave it empty for none."]
    return errors


def _meters_of(plan: Plan) -> dict[str, dict]:
    return {
        str(m.metric): {"included": m.included, "unit_size": m.unit_size, "overage_price_minor": m.overage_price_minor}
        for m in plan.meters
    }


def snapshot(plan: Plan) -> dict:
    """What a plan version says, as audit rows and forms hold it."""
    return {name: getattr(plan, name) for name in (*DESCRIBED, *PRICED)} | {"meters": _meters_of(plan)}


async def revise_plan(session: AsyncSession, ctx: RequestContext, plan_id: uuid.UUID, values: dict) -> Plan:
    """Staff change a current plan: a new version when what it costs or allows changes, else an edit in place.
    `values` is the whole plan as `snapshot` gives it; a plan that is no longer current is a 409."""
    await _staff(session, ctx, "staff revise a plan")
    plan = (await session.execute(select(Plan).where(Plan.id == plan_id).with_for_update())).scalar_one_or_none()
    if plan is None:
        raise NotFound("No such plan.")
    if plan.status != PlanStatus.CURRENT:
        raise Conflict("This version was replaced meanwhile; open the plan again.", {"current_status": plan.status})
    errors = _check(values)
    if errors:
        raise ValidationError(details={"fields": errors})
    before = snapshot(plan)
    after = {k: (values[k].strip() if k == "name" else values[k]) for k in before if k != "meters"}
    known = {str(m) for m in Metric}
    after["meters"] = before["meters"] | {
        m: {k: v.get(k) for k in ("included", "unit_size", "overage_price_minor")}
        for m, v in (values.get("meters") or {}).items()
        if m in known
    }
    if after == before:
        return plan
    if all(after[k] == before[k] for k in (*PRICED, "meters")):
        plan.name, plan.description = after["name"], after["description"]
        await session.flush()
        await _audit(session, ctx, "billing.plan_update", plan, before, after)
        return plan
    plan.status, plan.superseded_at = PlanStatus.SUPERSEDED, datetime.now(UTC)
    was_default, plan.is_default = plan.is_default, False
    await session.flush()  # the partial unique indexes (one current per key, one default) see the old row leave
    successor = Plan(
        id=new_id(),
        key=plan.key,
        version=plan.version + 1,
        status=PlanStatus.CURRENT,
        is_default=was_default,
        currency=plan.currency,
        created_by=ctx.user_id,
        **{k: after[k] for k in (*DESCRIBED, *PRICED)},
        meters=[PlanMeter(metric=Metric(metric), **meter) for metric, meter in sorted(after["meters"].items())],
    )
    session.add(successor)
    await session.flush()
    await _audit(session, ctx, "billing.plan_version", successor, before, after)
    return successor


async def _staff(session: AsyncSession, ctx: RequestContext, reason: str) -> None:
    if not ctx.is_platform_admin or ctx.api_key_id is not None:
        raise Forbidden("Only ClosedLoop staff change plans.")
    await enable_rls_bypass(session, reason=reason)


async def _audit(session, ctx, action: str, plan: Plan, before: dict, after: dict) -> None:
    await audit.record(
        session, ctx, action, entity_type="billing_plan", entity_id=plan.id,
        before=before, after=after | {"key": plan.key, "version": plan.version}, organization_id=None,
    )  # fmt: skip
