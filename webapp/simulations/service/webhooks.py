"""The simulation and product events organizations' webhook endpoints receive (webapp.integrations.outbox)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from webapp.integrations import outbox
from webapp.simulations.enums import RunStatus
from webapp.simulations.models import SimulationRun

FINAL_EVENTS = {RunStatus.SUCCEEDED: "simulation_run.completed", RunStatus.FAILED: "simulation_run.failed",
                RunStatus.CANCELLED: "simulation_run.canceled"}  # fmt: skip


def run_data(run: SimulationRun) -> dict:
    """A run as its events carry it (results stay behind GET /simulation-runs/:id)."""
    return {"id": run.id, "mission_id": run.mission_id, "name": run.name, "run_type": run.run_type,
            "status": run.status, "created_at": run.created_at, "finished_at": run.finished_at,
            "error": run.error, "summary": run.summary}  # fmt: skip


async def run_started(session: AsyncSession, run: SimulationRun) -> None:
    """simulation_run.started, in the transaction that queues it."""
    await outbox.emit(session, run.organization_id, "simulation_run.started", run_data(run))


async def run_finished(session: AsyncSession, run: SimulationRun) -> None:
    """simulation_run.completed / failed / canceled, in the transaction that ends it."""
    if run.status in FINAL_EVENTS:
        await outbox.emit(session, run.organization_id, FINAL_EVENTS[run.status], run_data(run))


async def product_recorded(session: AsyncSession, product) -> None:
    """product.recorded for a product entered by hand (a run's planned products come with its completion); the
    crew's notes stay behind GET /products/:id, so a message never copies what a person wrote."""
    from webapp.simulations.service.products import snapshot

    data = {"id": product.id} | {k: v for k, v in snapshot(product).items() if k != "notes"}
    await outbox.emit(session, product.organization_id, "product.recorded", data)
