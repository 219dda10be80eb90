"""Pub/sub channels and payloads of simulation runs: one per run, one per mission's and organization's run list."""

from __future__ import annotations

from webapp.core.pubsub import channel


def run_channel(namespace: str, run_id: object) -> str:
    """Channel carrying one run's state, progress and log lines."""
    return channel(namespace, "simulations", "run", run_id)


def cancel_channel(namespace: str, run_id: object) -> str:
    """Channel the worker running a run listens on, to stop the moment someone cancels it."""
    return channel(namespace, "simulations", "cancel", run_id)


def mission_runs_channel(namespace: str, mission_id: object) -> str:
    """Channel telling a mission's run list that one of its runs changed."""
    return channel(namespace, "simulations", "mission", mission_id)


def org_runs_channel(namespace: str, org_id: object) -> str:
    """Channel telling the organization's run lists (the Simulations page, the overview) that a run changed."""
    return channel(namespace, "simulations", "org", org_id)


def run_payload(run, logs: list[dict] | None = None) -> dict:
    """What a subscriber needs to redraw a run's progress (results are fetched, not pushed); `run` is a
    SimulationRun or a run-list row read from Postgres, which is also each stream's first event."""
    return {
        "id": str(run.id),
        "mission_id": str(run.mission_id),
        "org_id": str(run.organization_id),
        "status": str(run.status),
        "progress": run.progress_percent,
        "message": run.progress_message,
        "attempt": run.attempt,
        "error": run.error,
        "finished": run.status.is_final,
        # asked to stop, not stopped yet: pages say "Cancelling…" and offer nothing but waiting
        "cancelling": run.cancel_requested_at is not None and not run.status.is_final,
        "logs": logs or [],
    }
