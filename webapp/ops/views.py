"""System-check pages (live progress over SSE, polling fallback) and the platform endpoints."""

from __future__ import annotations

import subprocess
from importlib.metadata import version as package_version

from prometheus_client import generate_latest
from prometheus_client.registry import Collector
from quart import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    request,
    url_for,
)
from sqlalchemy import text

from webapp.core.errors import NotFound
from webapp.core.forms import read_form
from webapp.core.htmx import is_htmx, render
from webapp.core.ids import parse_id
from webapp.core.live import progress_frames, stream_job
from webapp.core.pagination import parse_limit
from webapp.core.permissions import Perm, public, requires
from webapp.core.transaction import db_session
from webapp.ops import probes, queries, service
from webapp.ops.events import check_channel, check_payload
from webapp.ops.forms import STEP_LABELS, CheckForm
from webapp.ops.metrics import collect_shared
from webapp.ops.tasks import enqueue_system_check
from workers.broker import queue_name

bp = Blueprint("ops", __name__, url_prefix="/o/<org_slug>/ops")
platform_bp = Blueprint("ops_platform", __name__)


def _state():
    return current_app.extensions["closedloop"]


def _check_id(raw: str):
    check_id = parse_id(raw)
    if check_id is None:
        raise NotFound("No such system check.")
    return check_id


@bp.get("/check")
@requires(Perm.OPS_READ)
async def check_page():
    """Start a check, watch the latest one, browse earlier ones."""
    page = await queries.list_checks(
        db_session(), g.ctx.org_id, cursor=request.args.get("cursor"), limit=parse_limit(request.args.get("limit"))
    )
    if is_htmx() and request.args.get("cursor"):
        return await render("ops/_check_rows.html", page=page)
    latest = page.items[0] if page.items and not request.args.get("cursor") else None
    return await render("ops/check.html", page=page, latest=latest, form=CheckForm(), labels=STEP_LABELS)


@bp.post("/checks")
@requires(Perm.OPS_RUN)
async def start_check():
    """Queue a check; the browser follows to its live page."""
    form = await read_form(CheckForm)
    steps = service.parse_steps(form.steps.data)
    check = await service.request_check(db_session(), g.ctx, steps, enqueue_system_check)
    target = url_for("ops.check_detail", check_id=check.id)
    if is_htmx():
        response = Response("", status=201)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


@bp.get("/checks/<check_id>")
@requires(Perm.OPS_READ)
async def check_detail(check_id: str):
    """One check with its live progress bar."""
    check = await queries.get_check(db_session(), g.ctx.org_id, _check_id(check_id))
    return await render("ops/check_detail.html", check=check, state=check_payload(check), labels=STEP_LABELS)


@bp.get("/checks/<check_id>/progress")
@requires(Perm.OPS_READ)
async def check_progress(check_id: str):
    """Polling fallback: the progress fragment; 286 tells htmx to stop polling once it is final."""
    check = await queries.get_check(db_session(), g.ctx.org_id, _check_id(check_id))
    state = check_payload(check)
    response = await render("ops/_check_progress.html", "ops/_check_progress.html", state=state, labels=STEP_LABELS)
    if state["finished"] and is_htmx():
        response.status_code = 286
    return response


@bp.get("/checks/<check_id>/events")
@requires(Perm.OPS_READ)
async def check_events(check_id: str):
    """SSE: the current state from Postgres first, then every published update, until final."""
    check_uuid = _check_id(check_id)
    settings = _state()["settings"]

    async def read_state() -> dict:
        return check_payload(await queries.get_check(db_session(), g.ctx.org_id, check_uuid))

    frames = progress_frames(
        current_app.jinja_env.get_template("ops/_check_progress.html"),
        lambda payload: f"{payload['attempt']}-{payload['progress']}",
        labels=STEP_LABELS,
    )
    return await stream_job(check_channel(settings.redis_namespace, check_uuid), read_state, frames)


@platform_bp.get("/favicon.ico")
@public
async def favicon():
    """The icon browsers ask for at the root (pages also link the SVG one)."""
    response = await current_app.send_static_file("favicon.ico")
    response.cache_control.max_age = 86400
    return response


docs_bp = Blueprint("api_docs", __name__)  # a page for people: the signed-in frame, unlike the platform probes


@docs_bp.get("/api/v1/docs")
@public
async def page():
    """The browsable API reference (Swagger UI over /api/v1/openapi.json, assets vendored)."""
    return await render("ops/api_docs.html")


@platform_bp.get("/health")
@public
async def health():
    """Liveness: the process answers."""
    return jsonify({"status": "ok"})


@platform_bp.get("/ready")
@public
async def ready():
    """Readiness: database, Redis and at least one worker heartbeat; 503 names what failed."""
    state = _state()
    settings = state["settings"]
    failed, checks = [], {}
    try:
        async with state["engine"].connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        failed.append("database")
        checks["database"] = f"{type(exc).__name__}"
    try:
        await state["redis"].ping()
        checks["redis"] = "ok"
        workers = await probes.live_workers(state["redis"], settings.redis_namespace)
        checks["worker"] = f"{workers} alive" if workers else "no heartbeat"
        if not workers:
            failed.append("worker")
        age = await probes.scheduler_age(state["redis"], settings.redis_namespace)
        # informational: the web can serve without the scheduler, so it does not fail readiness
        checks["scheduler"] = "never ticked" if age is None else f"last tick {age:.0f} s ago"
    except Exception as exc:
        failed.append("redis")
        checks["redis"] = f"{type(exc).__name__}"
    body = {"status": "ok" if not failed else "unavailable", "failed": failed, "checks": checks}
    return jsonify(body), (200 if not failed else 503)


def _git_sha() -> str:
    settings = _state()["settings"]
    if settings.git_sha:
        return settings.git_sha
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=2, cwd=current_app.root_path
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _migration_head() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from webapp.config import PROJECT_ROOT

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    return ScriptDirectory.from_config(config).get_current_head()


@platform_bp.get("/version")
@public
async def version():
    """Package version, git commit, the code's migration head and the database's revision."""
    state = _state()
    if "version_static" not in state:
        state["version_static"] = {
            "version": package_version("closedloop"),
            "git_sha": _git_sha(),
            "migration_head": _migration_head(),
        }
    try:
        async with state["engine"].connect() as conn:
            revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
    except Exception:
        revision = None
    info = dict(state["version_static"], database_revision=revision)
    info["migrations_current"] = info["database_revision"] == info["migration_head"]
    return jsonify(info)


class _SharedCollector(Collector):
    def __init__(self, families):
        self.families = families

    def collect(self):
        return iter(self.families)


@platform_bp.get("/metrics")
@public
async def metrics():
    """Prometheus exposition: this process's request metrics plus queue depth and job durations."""
    state = _state()
    settings = state["settings"]
    body = generate_latest(state["metrics"].registry)
    from webapp.core import sse

    body += (
        b"# HELP closedloop_sse_open_streams Server-sent event streams this process holds open.\n"
        b"# TYPE closedloop_sse_open_streams gauge\n" + f"closedloop_sse_open_streams {sse.open_streams}\n".encode()
    )
    try:
        families = await collect_shared(state["redis"], settings.redis_namespace, queue_name(settings.redis_namespace))
        from prometheus_client import CollectorRegistry

        shared = CollectorRegistry(auto_describe=False)
        shared.register(_SharedCollector(families))
        body += generate_latest(shared)
    except Exception:
        body += b"# shared metrics unavailable: redis error\n"
    return Response(body, content_type="text/plain; version=0.0.4; charset=utf-8")
