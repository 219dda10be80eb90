"""Simulation runs: validate a request, freeze its inputs, queue it; cancel, re-run, delete."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing import entitlements
from webapp.billing.entitlements import Gate
from webapp.catalog import queries as catalog
from webapp.catalog.enums import PRODUCT_TYPES
from webapp.core import audit
from webapp.core.errors import Conflict, NotFound, PaymentRequired, ValidationError
from webapp.core.ids import new_id
from webapp.core.pubsub import publish_json
from webapp.core.tenancy import RequestContext
from webapp.core.transaction import after_commit
from webapp.core.validation import Tags
from webapp.missions import queries as missions
from webapp.simulations.engine import (
    ENGINE_VERSION,
    MAX_SCENARIOS,
    MAX_SPARES,
    EngineError,
    build_problem,
)
from webapp.simulations.engine.integer import MILP_MAX_DAYS
from webapp.simulations.engine.lp import DEFAULT_TAU
from webapp.simulations.engine.model import MAX_EVA_KG, MAX_HORIZON_DAYS, MAX_RESUPPLY_DAYS
from webapp.simulations.engine.power import MAX_PHASE_H, POWER_KEYS
from webapp.simulations.engine.power import PROFILES as POWER_PROFILES
from webapp.simulations.engine.study import AGAINST, DEFAULT_PARETO_POINTS, PARETO_POINTS, validate_study
from webapp.simulations.enums import RunStatus, RunType
from webapp.simulations.events import (
    cancel_channel,
    mission_runs_channel,
    org_runs_channel,
    run_channel,
    run_payload,
)
from webapp.simulations.models import Product, SimulationRun
from webapp.simulations.service import webhooks
from webapp.simulations.snapshot import MISSION_SETTINGS, make_snapshot
from webapp.usage import credits, pricing

CONFIG_KEYS = {
    "target",
    "time_horizon_days",
    "scenarios",
    "seed",
    "tau",
    "plan",
    "whole_batches",
    "failure_shape",
    "policy",
    "generation_cv",
    "degraded_share",
    "resupply_every_days",
    "eva_per_week",
    "eva_waste_kg",
    "eva_random",
    "spares_per_module",
    "sweep",
    "against",
    "points",
    *POWER_KEYS,
}
PLANS = ("throughput_optimization", "waste_minimization", "mass_balance")
NIGHT_KEYS = ("battery_kwh", "night_kw", "lunar_phase_h")
MC_POLICIES = ("perfect_information", "rolling_horizon")
# engine time bounds how much one run may ask for: a rolling-horizon scenario costs about a thirtieth of a re-plan
# of the whole horizon, so a year of 1,000 scenarios fits
SCENARIO_DAYS = {"perfect_information": 200_000, "rolling_horizon": 365_000}
MAX_SEED = 2**31 - 1


def _flag(raw) -> bool | None:
    """A yes/no setting as JSON or a checkbox sends it (None when it is neither)."""
    if raw in ("on", "true", "1", 1):  # a checkbox sends "on"; true == 1 in Python
        return True
    if raw in (None, "", "false", "0", 0):
        return False
    return None


def _whole(raw, name: str, low: int, high: int, errors: dict) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        errors[name] = [f"Enter a whole number from {low} to {high}."]
        return None
    if not low <= value <= high or (isinstance(raw, float) and raw != value):
        errors[name] = [f"Enter a whole number from {low} to {high}."]
        return None
    return value


def _decimal(raw, name: str, low: float, high: float, errors: dict, message: str) -> float | None:
    """A number from a form or JSON field in [low, high]; None when not given; the message when it is not one."""
    if raw is None or raw == "":
        return None
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = float(raw)
        if not low <= value <= high:  # NaN fails this too
            raise ValueError
        return value
    except (TypeError, ValueError):
        errors[name] = [message]
        return None


def _parse_power(raw_config: dict, config: dict, errors: dict) -> None:
    """The power profile settings (engine/power.py) into config, only those that apply."""
    profile = raw_config.get("power_profile") or "continuous"
    if profile not in POWER_PROFILES:
        errors["power_profile"] = [f"Choose one of {', '.join(POWER_PROFILES)}."]
        return
    peak = _decimal(
        raw_config.get("peak_kw"), "peak_kw", 0.01, 100_000, errors, "The peak limit is 0.01 to 100,000 kW."
    )
    if peak is not None:
        config["peak_kw"] = peak
    if profile != "lunar":
        given = [key for key in NIGHT_KEYS if raw_config.get(key) not in (None, "")]
        if given:
            errors[given[0]] = ["Storage, night power and the lunar phase apply to the lunar profile only."]
        return
    config["power_profile"] = "lunar"
    limits = {
        "battery_kwh": (1_000_000, "Storage is 0 to 1,000,000 kWh."),
        "night_kw": (100_000, "Night power is 0 to 100,000 kW."),
        "lunar_phase_h": (MAX_PHASE_H, f"Hours since sunrise at the start: 0 to {MAX_PHASE_H}."),
    }
    for key, (high, message) in limits.items():
        value = _decimal(raw_config.get(key), key, 0, high, errors, message)
        if value:
            config[key] = value


def parse_run_request(values: dict) -> tuple[str, RunType, dict]:
    """Name, type and engine config from a form or JSON body; 422 naming every bad field."""
    errors: dict[str, list[str]] = {}
    raw_config = values.get("config") or {}
    if not isinstance(raw_config, dict):
        raise ValidationError.field("config", "config must be an object.")
    unknown = sorted(set(raw_config) - CONFIG_KEYS)
    if unknown:
        errors["config"] = [f"Unknown setting(s): {', '.join(unknown)}. Allowed: {', '.join(sorted(CONFIG_KEYS))}."]
    try:
        run_type = RunType(values.get("run_type") or "")
    except ValueError:
        errors["run_type"] = [f"Choose one of {', '.join(t.value for t in RunType)}."]
        run_type = None
    name = values.get("name") or ""
    name = (name.strip() if isinstance(name, str) else "") or (run_type.label if run_type else "")
    if not 1 <= len(name) <= 120 or not isinstance(values.get("name") or "", str):
        errors["name"] = ["Give the run a name of at most 120 characters."]
    config: dict = {}
    target = raw_config.get("target") or "brick"
    if not isinstance(target, str) or target not in {p.value for p in PRODUCT_TYPES}:
        errors["target"] = [f"Choose a product: {', '.join(p.value for p in PRODUCT_TYPES)}."]
    config["target"] = target
    config["time_horizon_days"] = (
        _whole(raw_config.get("time_horizon_days", 30), "time_horizon_days", 1, MAX_HORIZON_DAYS, errors) or 30
    )
    seed = _whole(raw_config.get("seed"), "seed", 0, MAX_SEED, errors)
    resupply = _whole(raw_config.get("resupply_every_days"), "resupply_every_days", 1, MAX_RESUPPLY_DAYS, errors)
    if resupply and resupply > 1:  # every day is how waste arrives without it
        config["resupply_every_days"] = resupply
    eva_week = _whole(raw_config.get("eva_per_week"), "eva_per_week", 0, 7, errors)
    eva_kg = _decimal(raw_config.get("eva_waste_kg"), "eva_waste_kg", 0, MAX_EVA_KG, errors,
                      f"The waste one EVA leaves is a number of kg from 0 to {MAX_EVA_KG:g}.")  # fmt: skip
    if eva_week and eva_kg:
        config["eva_per_week"], config["eva_waste_kg"] = eva_week, eva_kg
    elif eva_week or eva_kg:
        errors["eva_per_week" if not eva_week else "eva_waste_kg"] = [
            "EVA days need both how many a week and the waste each leaves (or neither)."
        ]
    if run_type is RunType.MONTE_CARLO:
        config["scenarios"] = _whole(raw_config.get("scenarios", 200), "scenarios", 1, MAX_SCENARIOS, errors) or 200
        plan = raw_config.get("plan") or "throughput_optimization"
        if not isinstance(plan, str) or plan not in PLANS:
            errors["plan"] = [f"Choose one of {', '.join(PLANS)}."]
        config["plan"] = plan
        shape = _decimal(
            raw_config.get("failure_shape"),
            "failure_shape",
            0.5,
            5,
            errors,
            "The failure shape (Weibull β) is a number from 0.5 to 5; 1 is exponential.",
        )
        if shape is not None and shape != 1.0:
            config["failure_shape"] = shape
        cv = _decimal(
            raw_config.get("generation_cv"),
            "generation_cv",
            0,
            1,
            errors,
            "The day-to-day variation of waste is a share from 0 (every day the mean) to 1.",
        )
        if cv:
            config["generation_cv"] = cv
        degraded = _decimal(
            raw_config.get("degraded_share"),
            "degraded_share",
            0,
            1,
            errors,
            "The share of failures that are malfunctions is from 0 (every failure stops the module) to 1.",
        )
        if degraded:
            config["degraded_share"] = degraded
        spares = _whole(raw_config.get("spares_per_module"), "spares_per_module", 0, MAX_SPARES, errors)
        if spares is not None:  # 0 is a setting too: no spares at all
            config["spares_per_module"] = spares
        eva_random = _flag(raw_config.get("eva_random"))
        if eva_random is None:
            errors["eva_random"] = ["eva_random is true or false."]
        elif eva_random and not config.get("eva_per_week"):
            errors["eva_random"] = ["EVA days fall at random only when there are EVA days: set how many a week."]
        elif eva_random:
            config["eva_random"] = True
        policy = raw_config.get("policy") or "perfect_information"
        if policy not in MC_POLICIES:
            errors["policy"] = [f"Choose one of {', '.join(MC_POLICIES)}."]
        elif policy != "perfect_information":
            config["policy"] = policy
            if plan == "mass_balance":
                errors["policy"] = ["The rolling horizon re-plans an optimising plan, not the fixed policy."]
        limit = SCENARIO_DAYS.get(policy, SCENARIO_DAYS["perfect_information"])
        if config["scenarios"] * config["time_horizon_days"] > limit:
            errors["scenarios"] = [
                f"Scenarios × days may be at most {limit:,} under this policy "
                f"(e.g. 1,000 scenarios of {limit // 1000} days)."
            ]
    if run_type is RunType.TRADE_STUDY:
        _parse_trade_study(raw_config, config, errors)
    elif run_type is RunType.PARETO_SWEEP:
        _parse_pareto(raw_config, config, errors)
    tau = raw_config.get("tau")
    if tau is None or tau == "":  # not given (or left empty on the form): strict lexicographic
        tau = DEFAULT_TAU
    try:
        if isinstance(tau, bool):
            raise ValueError
        tau = float(tau)
        if not 0 <= tau <= 0.5:
            raise ValueError
        config["tau"] = tau
    except (TypeError, ValueError):
        errors["tau"] = ["τ is the share of the first objective's optimum the second may give up: 0 to 0.5."]
    whole = _flag(raw_config.get("whole_batches", False))
    if whole is None:
        errors["whole_batches"] = ["whole_batches is true or false."]
    elif whole and run_type in (RunType.TRADE_STUDY, RunType.PARETO_SWEEP):
        errors["whole_batches"] = ["Studies compare fractional plans; plan whole batches in a single run."]
    elif whole:
        config["whole_batches"] = True
    _parse_power(raw_config, config, errors)
    powered = "peak_kw" in config or "power_profile" in config
    if powered and (run_type is RunType.MASS_BALANCE or config.get("plan") == "mass_balance"):
        errors["power_profile"] = ["A power profile or peak limit needs an optimising plan, not the fixed policy."]
    if powered and config.get("whole_batches") and config["time_horizon_days"] > MILP_MAX_DAYS:
        errors["whole_batches"] = [f"Whole batches under a power profile are planned up to {MILP_MAX_DAYS} days."]
    if errors:
        raise ValidationError(details={"fields": errors})
    config["seed"] = seed if seed is not None else secrets.randbelow(MAX_SEED)
    return name, run_type, config


def _parse_trade_study(raw_config: dict, config: dict, errors: dict) -> None:
    """What each point plans and the swept parameters' shape (their values are checked against the mission's
    catalog when the run starts: engine/study.validate_sweep)."""
    plan = raw_config.get("plan") or "throughput_optimization"
    if not isinstance(plan, str) or plan not in PLANS:
        errors["plan"] = [f"Choose one of {', '.join(PLANS)}."]
    config["plan"] = plan
    sweep = raw_config.get("sweep")
    if not isinstance(sweep, list) or not sweep:
        errors["sweep"] = ["Sweep one or two parameters: [{parameter, values}]."]
        return
    config["sweep"] = sweep


def _parse_pareto(raw_config: dict, config: dict, errors: dict) -> None:
    """Which objective the target is traded against, and how many points."""
    against = raw_config.get("against") or "waste_processed"
    if against not in AGAINST:
        errors["against"] = [f"Choose one of {', '.join(AGAINST)}."]
    config["against"] = against
    low, high = PARETO_POINTS
    config["points"] = _whole(raw_config.get("points"), "points", low, high, errors) or DEFAULT_PARETO_POINTS


async def capture_snapshot(session: AsyncSession, ctx: RequestContext, mission_id: uuid.UUID) -> dict:
    """The mission's planning settings and the organization's live catalog, as plain JSON."""
    mission = await missions.get_mission(session, ctx.org_id, mission_id)
    row = {k: getattr(mission, k) for k in ("name", "destination", "crew_size", *MISSION_SETTINGS)}
    row["id"], row["destination"] = str(mission.id), str(mission.destination)
    items = await catalog.planning_catalog(session, ctx.org_id, row["destination"])
    start = max(date.today(), mission.landing_date.date()) if mission.landing_date else date.today()
    return make_snapshot(row, items["materials"], items["modules"], items["recipes"], start)


async def start_run(
    session: AsyncSession,
    ctx: RequestContext,
    mission_id: uuid.UUID,
    name: str,
    run_type: RunType,
    config: dict,
    enqueue,
    *,
    snapshot: dict | None = None,
    rerun_of: uuid.UUID | None = None,
    tags=None,
) -> SimulationRun:
    """Insert a queued run with its frozen inputs and enqueue it after commit; inputs the engine refuses are 422."""
    await missions.get_mission(session, ctx.org_id, mission_id)
    await entitlements.require(session, ctx.org_id, Gate.RUN, org_slug=ctx.org_slug)
    snapshot = snapshot or await capture_snapshot(session, ctx, mission_id)
    try:
        if run_type is RunType.TRADE_STUDY:
            axes = validate_study(config, snapshot)
            config["sweep"] = [{"parameter": a["parameter"], "values": a["values"]} for a in axes]
        build_problem(snapshot, config)  # refuse at the door what would only fail in the worker
    except EngineError as exc:
        raise ValidationError(exc.message, details={"fields": {exc.constraint: [exc.message]}}) from None
    run = SimulationRun(
        id=new_id(),
        organization_id=ctx.org_id,
        mission_id=mission_id,
        name=name,
        run_type=run_type,
        status=RunStatus.QUEUED,
        config=config,
        input_snapshot=snapshot,
        engine_version=ENGINE_VERSION,
        seed=config["seed"],
        progress_percent=0,
        progress_message="Waiting for a worker.",
        attempt=0,
        created_by=ctx.user_id,
        rerun_of=rerun_of,
        tags=clean_tags(tags),
    )
    session.add(run)
    await session.flush()
    # the estimate is held before anything is queued: too few credits is a 402 naming the shortfall, and the
    # request's rollback takes the run with it
    try:
        await credits.hold(
            session, ctx.org_id, pricing.estimate(config), subject=hold_subject(run.id),
            description=f"Simulation run “{name}”", actor_id=ctx.user_id,
        )  # fmt: skip
    except PaymentRequired as exc:  # where more credits come from
        exc.details["upgrade_url"] = entitlements.upgrade_url(ctx.org_slug)
        raise
    await audit.record(
        session,
        ctx,
        "simulation_run.start",
        entity_type="simulation_run",
        entity_id=run.id,
        after={
            "name": name,
            "run_type": run_type.value,
            "config": config,
            "rerun_of": str(rerun_of) if rerun_of else None,
        },
    )
    await webhooks.run_started(session, run)
    run_id, org_id = str(run.id), str(ctx.org_id)
    after_commit(session, lambda: enqueue(run_id, org_id))
    return run


def hold_subject(run_id: uuid.UUID) -> str:
    """What a run's credit hold is named by (one hold per run)."""
    return f"simulation_run:{run_id}"


async def _lock(session: AsyncSession, ctx: RequestContext, run_id: uuid.UUID) -> SimulationRun:
    run = (
        await session.execute(
            select(SimulationRun)
            .where(
                SimulationRun.id == run_id,
                SimulationRun.organization_id == ctx.org_id,
                SimulationRun.deleted_at.is_(None),
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if run is None:
        raise NotFound("No such simulation run.")
    return run


def announce(session: AsyncSession, redis, namespace: str, run: SimulationRun, logs: list[dict] | None = None) -> None:
    """After commit, tell the run's and its mission's subscribers."""
    payload = run_payload(run, logs)

    async def send():
        await publish_json(redis, run_channel(namespace, payload["id"]), payload)
        await publish_json(redis, mission_runs_channel(namespace, payload["mission_id"]), payload)
        await publish_json(redis, org_runs_channel(namespace, payload["org_id"]), payload)

    after_commit(session, send)


async def cancel_run(
    session: AsyncSession, ctx: RequestContext, run_id: uuid.UUID, redis, namespace: str
) -> SimulationRun:
    """Cancel: a queued run ends now; a running one is flagged and its worker stops within a second."""
    run = await _lock(session, ctx, run_id)
    if run.status.is_final:
        raise Conflict(f"This run already {run.status.value}.")
    now = datetime.now(UTC)
    before = {"status": run.status.value}
    run.cancel_requested_at = now
    if run.status is RunStatus.QUEUED:
        run.status, run.finished_at, run.progress_message = RunStatus.CANCELLED, now, "Cancelled before it started."
        await credits.release(session, ctx.org_id, hold_subject(run.id))
    else:
        run.progress_message = "Cancelling…"
        after_commit(session, lambda: publish_json(redis, cancel_channel(namespace, run.id), {"id": str(run.id)}))
    run.version += 1
    await session.flush()
    await audit.record(
        session,
        ctx,
        "simulation_run.cancel",
        entity_type="simulation_run",
        entity_id=run.id,
        before=before,
        after={"status": run.status.value},
    )
    await webhooks.run_finished(session, run)  # a queued run ends here; a running one when its worker stops
    announce(session, redis, namespace, run)
    return run


async def rerun(session: AsyncSession, ctx: RequestContext, run_id: uuid.UUID, enqueue) -> SimulationRun:
    """A new run with the same frozen inputs, config and seed (so it reproduces the first, engine permitting)."""
    original = await _lock(session, ctx, run_id)
    return await start_run(
        session,
        ctx,
        original.mission_id,
        f"{original.name} (re-run)"[:120],
        original.run_type,
        dict(original.config),
        enqueue,
        snapshot=original.input_snapshot,
        rerun_of=original.id,
        tags=original.tags,
    )


def clean_tags(raw) -> list[str]:
    """Tags as the Tags rule keeps them; a 422 naming `tags` otherwise."""
    tags, error = Tags().check(raw)
    if error:
        raise ValidationError.field("tags", error)
    return tags


async def tag_run(
    session: AsyncSession, ctx: RequestContext, run_id: uuid.UUID, tags, *, version: int | None
) -> SimulationRun:
    """Change a run's tags (its inputs and results never change); a stale `version` is a 409."""
    run = await _lock(session, ctx, run_id)
    if version is not None and version != run.version:
        raise Conflict(
            "This run was changed by someone else first.", {"current": {"tags": run.tags, "version": run.version}}
        )
    cleaned = clean_tags(tags)
    if cleaned == run.tags:
        return run
    before = list(run.tags)
    run.tags = cleaned
    await session.flush()
    await audit.record(
        session, ctx, "simulation_run.tag", entity_type="simulation_run", entity_id=run.id,
        before={"tags": before}, after={"tags": cleaned},
    )  # fmt: skip
    return run


async def delete_run(session: AsyncSession, ctx: RequestContext, run_id: uuid.UUID) -> SimulationRun:
    """Soft-delete a finished run and the plan it made (its planned products); a live run must be cancelled first."""
    run = await _lock(session, ctx, run_id)
    if not run.status.is_final:
        raise Conflict("Cancel the run before deleting it.")
    run.deleted_at = datetime.now(UTC)
    await session.execute(
        update(Product)
        .where(Product.organization_id == ctx.org_id, Product.simulation_run_id == run.id, Product.deleted_at.is_(None))
        .values(deleted_at=run.deleted_at)
        .execution_options(synchronize_session=False)
    )
    run.version += 1
    await audit.record(
        session,
        ctx,
        "simulation_run.delete",
        entity_type="simulation_run",
        entity_id=run.id,
        before={"name": run.name, "status": run.status.value},
    )
    return run


async def touch_queued(session: AsyncSession, run_ids: list[uuid.UUID]) -> None:
    """Mark re-enqueued runs so the reaper does not queue them again next minute."""
    if run_ids:
        await session.execute(
            update(SimulationRun)
            .where(SimulationRun.id.in_(run_ids))
            .values(updated_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        )
