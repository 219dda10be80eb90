"""Product reads (list, one product, per-mission totals) and simulation-run reads (lists, one run, logs)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.catalog.enums import PRODUCT_TYPES, Resource
from webapp.catalog.models import Recipe
from webapp.core.db import fetch_rows
from webapp.core.errors import NotFound
from webapp.core.listing import Listing, by_id, choice, like_pattern, search, tagged
from webapp.core.pagination import KeysetQuery, Page
from webapp.missions.models import Mission
from webapp.simulations.enums import ProductKind, RunStatus, RunType
from webapp.simulations.models import Product, SimulationLog, SimulationRun


@dataclass(frozen=True)
class ProductTotal:
    """How much of one product type a mission has recorded, and how much its latest plan schedules."""

    product_type: Resource
    records: int
    kg: Decimal
    planned_kg: Decimal | None = None


@dataclass(frozen=True)
class LatestPlan:
    """The newest finished plan of a mission that schedules products."""

    run_id: uuid.UUID
    name: str
    finished_at: datetime
    first_day: date
    last_day: date


def _live(*conditions):
    return (Product.deleted_at.is_(None), *conditions)


async def product_totals(
    session: AsyncSession, org_id: uuid.UUID, mission_id: uuid.UUID, plan: LatestPlan | None = None
) -> list[ProductTotal]:
    """Recorded products of a mission summed by type (only records count as made), with what `plan` schedules
    beside them; heaviest first."""
    recorded = (
        select(Product.product_type, func.count(), func.sum(Product.quantity_kg))
        .where(
            Product.organization_id == org_id,
            Product.mission_id == mission_id,
            *_live(Product.kind == ProductKind.RECORDED),
        )
        .group_by(Product.product_type)
    )
    made = {row[0]: row for row in (await fetch_rows(session, recorded)).all()}
    planned = {}
    if plan is not None:
        stmt = (
            select(Product.product_type, func.sum(Product.quantity_kg))
            .where(Product.organization_id == org_id, Product.simulation_run_id == plan.run_id, *_live())
            .group_by(Product.product_type)
        )
        planned = dict((await fetch_rows(session, stmt)).all())
    totals = [
        ProductTotal(
            kind, made[kind][1] if kind in made else 0, made[kind][2] if kind in made else Decimal(0), planned.get(kind)
        )
        for kind in set(made) | set(planned)
    ]
    return sorted(totals, key=lambda t: (-(t.kg or 0), -(t.planned_kg or 0), t.product_type.value))


async def latest_plan(session: AsyncSession, org_id: uuid.UUID, mission_id: uuid.UUID) -> LatestPlan | None:
    """The mission's most recently finished run that planned products (deleted runs and their plans excluded)."""
    stmt = (
        select(
            SimulationRun.id,
            SimulationRun.name,
            SimulationRun.finished_at,
            func.min(Product.produced_at),
            func.max(Product.produced_at),
        )
        .join(
            Product,
            (Product.simulation_run_id == SimulationRun.id)
            & (Product.organization_id == SimulationRun.organization_id),
        )
        .where(
            SimulationRun.organization_id == org_id,
            SimulationRun.mission_id == mission_id,
            SimulationRun.deleted_at.is_(None),
            SimulationRun.status == RunStatus.SUCCEEDED,
            *_live(),
        )
        .group_by(SimulationRun.id)
        .order_by(SimulationRun.finished_at.desc(), SimulationRun.id.desc())
        .limit(1)
    )
    row = (await fetch_rows(session, stmt)).one_or_none()
    return LatestPlan(row[0], row[1], row[2], row[3].date(), row[4].date()) if row else None


async def daily_kg(
    session: AsyncSession, org_id: uuid.UUID, mission_id: uuid.UUID, *, run_id: uuid.UUID | None = None
) -> dict[Resource, dict[date, Decimal]]:
    """kg per product type and day: the records of a mission, or (with `run_id`) what that plan schedules."""
    day = func.date(func.timezone("UTC", Product.produced_at))
    where = (Product.simulation_run_id == run_id) if run_id else (Product.kind == ProductKind.RECORDED)
    stmt = (
        select(Product.product_type, day, func.sum(Product.quantity_kg))
        .where(Product.organization_id == org_id, Product.mission_id == mission_id, where, *_live())
        .group_by(Product.product_type, day)
    )
    found: dict[Resource, dict[date, Decimal]] = {}
    for kind, when, kg in (await fetch_rows(session, stmt)).all():
        found.setdefault(kind, {})[when] = kg
    return found


@dataclass(frozen=True)
class ProductRow:
    """A product as lists and the JSON API show it."""

    id: uuid.UUID
    mission_id: uuid.UUID
    product_type: Resource
    quantity_kg: Decimal
    produced_at: datetime
    recipe_id: uuid.UUID | None
    kind: ProductKind
    simulation_run_id: uuid.UUID | None
    notes: str
    created_at: datetime
    updated_at: datetime
    version: int
    tags: list[str]
    mission_name: str
    recipe_name: str | None


_COLUMNS = tuple(getattr(Product, f) for f in list(ProductRow.__dataclass_fields__)[:-2]) + (
    Mission.name.label("mission_name"),
    Recipe.name.label("recipe_name"),
)

PRODUCTS = Listing(
    select(*_COLUMNS)
    .join(Mission, (Mission.id == Product.mission_id) & (Mission.organization_id == Product.organization_id))
    .outerjoin(Recipe, Recipe.id == Product.recipe_id)
    .where(Product.organization_id == bindparam("org_id"), Product.deleted_at.is_(None), Mission.deleted_at.is_(None)),
    id_column=Product.id,
    sorts={
        "produced_at": Product.produced_at,
        "quantity_kg": Product.quantity_kg,
        "product_type": Product.product_type,
        "created_at": Product.created_at,
    },
    filters={
        "mission_id": by_id(lambda p: Product.mission_id == p),
        "product_type": choice(PRODUCT_TYPES, lambda p: Product.product_type == p),
        "kind": choice(
            ProductKind,
            lambda p: Product.kind == p,
            "recorded (made by the crew) or planned (scheduled by a simulation run for the day it names)",
        ),
        "q": search(
            lambda p: func.lower(Product.notes).like(p, escape="\\"), like_pattern, "Text anywhere in the notes."
        ),
        "tag": tagged(Product.tags),
    },
    default_sort="produced_at:desc",
)


async def list_products(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    mission_id: uuid.UUID | None = None,
    product_type: str | None = None,
    kind: str | None = None,
    q: str | None = None,
    tag: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 25,
) -> Page[ProductRow]:
    """Live products of live missions, one page; `q` matches words in the notes."""
    page = await PRODUCTS.page(
        session,
        {"org_id": org_id},
        sort=sort,
        cursor=cursor,
        limit=limit,
        filters={"mission_id": mission_id, "product_type": product_type, "kind": kind, "q": q, "tag": tag},
    )
    return page  # its rows carry every ProductRow field by name (and the sort key): no copy needed


async def get_product(session: AsyncSession, org_id: uuid.UUID, product_id: uuid.UUID) -> ProductRow:
    """One live product of a live mission; NotFound otherwise."""
    stmt = PRODUCTS.base.where(Product.id == product_id)
    row = (await fetch_rows(session, stmt, {"org_id": org_id})).one_or_none()
    if row is None:
        raise NotFound("No such product.")
    return ProductRow(*row)


# ---------------------------------------------------------------- simulation runs

RUN_LIST_COLUMNS = (
    SimulationRun.id,
    SimulationRun.mission_id,
    SimulationRun.name,
    SimulationRun.run_type,
    SimulationRun.status,
    SimulationRun.progress_percent,
    SimulationRun.progress_message,
    SimulationRun.config,
    SimulationRun.summary,
    SimulationRun.error,
    SimulationRun.attempt,
    SimulationRun.created_at,
    SimulationRun.started_at,
    SimulationRun.finished_at,
    SimulationRun.engine_version,
    SimulationRun.seed,
    SimulationRun.rerun_of,
    SimulationRun.cancel_requested_at,
    SimulationRun.organization_id,
    SimulationRun.tags,
    SimulationRun.version,
)
_RUN_LIST = KeysetQuery(
    select(*RUN_LIST_COLUMNS).where(
        SimulationRun.organization_id == bindparam("org_id"),
        SimulationRun.mission_id == bindparam("mission_id"),
        SimulationRun.deleted_at.is_(None),
    ),
    keys=[SimulationRun.id],
)


async def list_runs(
    session: AsyncSession, org_id: uuid.UUID, mission_id: uuid.UUID, *, cursor: str | None = None, limit: int = 25
) -> Page:
    """A mission's runs, newest first (column rows: the results stay in the database)."""
    return await _RUN_LIST.page(session, {"org_id": org_id, "mission_id": mission_id}, cursor=cursor, limit=limit)


RUNS = Listing(
    select(*RUN_LIST_COLUMNS, Mission.name.label("mission_name"))
    .join(
        Mission, (Mission.id == SimulationRun.mission_id) & (Mission.organization_id == SimulationRun.organization_id)
    )
    .where(
        SimulationRun.organization_id == bindparam("org_id"),
        SimulationRun.deleted_at.is_(None),
        Mission.deleted_at.is_(None),
    ),
    id_column=SimulationRun.id,
    sorts={"created_at": SimulationRun.created_at, "name": func.lower(SimulationRun.name)},
    filters={
        "mission_id": by_id(lambda p: SimulationRun.mission_id == p),
        "status": choice(RunStatus, lambda p: SimulationRun.status == p),
        "run_type": choice(RunType, lambda p: SimulationRun.run_type == p),
        "q": search(
            lambda p: func.lower(SimulationRun.name).like(p, escape="\\"), like_pattern, "Text anywhere in the name."
        ),
        "tag": tagged(SimulationRun.tags),
    },
    default_sort="created_at:desc",
)


async def list_org_runs(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    filters: dict | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 25,
) -> Page:
    """Runs of every live mission, one page (column rows with `mission_name`; results stay in the database)."""
    return await RUNS.page(session, {"org_id": org_id}, sort=sort, cursor=cursor, limit=limit, filters=filters or {})


async def total_org_runs(session: AsyncSession, org_id: uuid.UUID, filters: dict, first_page: Page) -> int:
    """How many runs the list shows with these filters, in all (the count above the list)."""
    return await RUNS.total(session, {"org_id": org_id}, filters, first_page)


async def get_run(session: AsyncSession, org_id: uuid.UUID, run_id: uuid.UUID) -> SimulationRun:
    """A live run of the organization with its results; NotFound otherwise (also for other tenants' ids)."""
    run = (
        await session.execute(
            select(SimulationRun).where(
                SimulationRun.id == run_id,
                SimulationRun.organization_id == org_id,
                SimulationRun.deleted_at.is_(None),
            )
        )
    ).scalar_one_or_none()
    if run is None:
        raise NotFound("No such simulation run.")
    return run


async def get_run_state(session: AsyncSession, org_id: uuid.UUID, run_id: uuid.UUID):
    """The columns a progress bar needs (not the results), for SSE and polling."""
    row = (
        await fetch_rows(
            session,
            select(*RUN_LIST_COLUMNS).where(
                SimulationRun.id == run_id,
                SimulationRun.organization_id == org_id,
                SimulationRun.deleted_at.is_(None),
            ),
        )
    ).first()
    if row is None:
        raise NotFound("No such simulation run.")
    return row


async def compare_choices(session: AsyncSession, org_id: uuid.UUID, limit: int = 200) -> list:
    """The organization's newest succeeded runs with their mission's name (the compare page's pickers)."""
    stmt = (
        select(SimulationRun.id, SimulationRun.name, SimulationRun.created_at, Mission.name.label("mission_name"))
        .join(Mission, (Mission.id == SimulationRun.mission_id) & (Mission.organization_id == org_id))
        .where(
            SimulationRun.organization_id == org_id,
            SimulationRun.deleted_at.is_(None),
            Mission.deleted_at.is_(None),
            SimulationRun.status == RunStatus.SUCCEEDED,
        )
        .order_by(SimulationRun.id.desc())
        .limit(limit)
    )
    return list((await fetch_rows(session, stmt)).all())


async def previous_finished_run(session: AsyncSession, org_id: uuid.UUID, run) -> uuid.UUID | None:
    """The mission's newest finished run started before `run` (what its page offers to compare with)."""
    stmt = (
        select(SimulationRun.id)
        .where(
            SimulationRun.organization_id == org_id,
            SimulationRun.mission_id == run.mission_id,
            SimulationRun.deleted_at.is_(None),
            SimulationRun.id < run.id,
            SimulationRun.status == RunStatus.SUCCEEDED,
        )
        .order_by(SimulationRun.id.desc())
        .limit(1)
    )
    return (await fetch_rows(session, stmt)).scalar_one_or_none()


async def run_logs(
    session: AsyncSession, org_id: uuid.UUID, run_id: uuid.UUID, *, after: uuid.UUID | None = None, limit: int = 200
) -> list:
    """A run's log lines in order, after a given line (the log tail and the JSON log endpoint)."""
    stmt = (
        select(
            SimulationLog.id,
            SimulationLog.attempt,
            SimulationLog.level,
            SimulationLog.message,
            SimulationLog.progress_percent,
            SimulationLog.created_at,
        )
        .where(SimulationLog.organization_id == org_id, SimulationLog.run_id == run_id)
        .order_by(SimulationLog.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(SimulationLog.id > after)
    return list((await fetch_rows(session, stmt)).all())


async def run_products(session: AsyncSession, org_id: uuid.UUID, run_id: uuid.UUID) -> list:
    """What a run plans, summed per product and recipe: (product_type, recipe name, kg, days, first day, last day)."""
    stmt = (
        select(
            Product.product_type,
            Recipe.name,
            func.sum(Product.quantity_kg),
            func.count(),
            func.min(Product.produced_at),
            func.max(Product.produced_at),
        )
        .outerjoin(Recipe, Recipe.id == Product.recipe_id)
        .where(Product.organization_id == org_id, Product.simulation_run_id == run_id, *_live())
        .group_by(Product.product_type, Recipe.name)
        .order_by(Product.product_type, Recipe.name)
    )
    return list((await fetch_rows(session, stmt)).all())
