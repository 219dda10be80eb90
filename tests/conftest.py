"""Test services: a fresh database on embedded Postgres (or TEST_DATABASE_URL), Redis, live processes."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"
RUN_ID = secrets.token_hex(4)
TEST_DB = f"cl_test_{RUN_ID}"

_services = {}


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _admin_exec(url: str, sql: str) -> None:
    import asyncio

    import asyncpg

    async def run():
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


from tests.mailbox import Mailbox  # noqa: E402


def pytest_configure(config):
    """Start (or point at) Postgres and Redis, make a fresh database, migrate it, export the URLs."""
    OUTPUT.mkdir(exist_ok=True)
    from webapp.embedded import EmbeddedPostgres, EmbeddedRedis

    server_url = os.environ.get("TEST_DATABASE_URL")
    if server_url:
        if server_url.startswith("postgresql://"):
            server_url = server_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    else:
        pg = EmbeddedPostgres(ROOT / "var" / "test" / "postgres")
        pg.stop_stale()  # an earlier run killed before it cleaned up
        pg.start()
        _services["postgres"] = pg
        server_url = pg.url("postgres")
    _services["server_url"] = server_url
    _admin_exec(server_url, f'CREATE DATABASE "{TEST_DB}"')
    database_url = _with_database(server_url, TEST_DB)

    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        redis = EmbeddedRedis(ROOT / "var" / "test" / "redis")
        redis.stop_stale()
        redis.start()
        _services["redis"] = redis
        redis_url = redis.url

    _services["smtp"] = Mailbox.start()
    os.environ.update(
        SMTP_URL=_services["smtp"].url,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_NAMESPACE=f"cltest-{RUN_ID}",
        SECRET_KEY=secrets.token_urlsafe(32),
        CLOSEDLOOP_ENV="test",
        LOG_LEVEL=os.environ.get("TEST_LOG_LEVEL", "WARNING"),
        SESSION_IDLE_MINUTES="30",
        SESSION_ABSOLUTE_HOURS="8",
        # the local object store of this run (the S3 contract tests start their own S3-protocol server)
        OBJECT_STORE_URL=f"file://{ROOT / 'var' / 'test' / f'objects-{RUN_ID}'}",
        WEBHOOKS_ALLOW_LOOPBACK="1",  # the webhook tests receive on 127.0.0.1 (production mode refuses it: tested)
    )
    from webapp.cli import migrate

    migrate()


def pytest_unconfigure(config):
    """Drop the test database and stop what we started."""
    if "server_url" in _services:
        try:
            _admin_exec(_services["server_url"], f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')
        except Exception as exc:  # leave a note, never mask the test result
            print(f"could not drop {TEST_DB}: {exc}", file=sys.stderr)
    if "smtp" in _services:
        _services["smtp"].stop()
    if "redis" in _services:
        _services["redis"].stop()
    if "postgres" in _services:
        _services["postgres"].stop()
    shutil.rmtree(ROOT / "var" / "test" / f"objects-{RUN_ID}", ignore_errors=True)


# ---------------------------------------------------------------- in-process app


@pytest.fixture(scope="session")
def mailbox() -> "Mailbox":
    """The real SMTP server (aiosmtpd) every test process and worker delivers to."""
    return _services["smtp"]


@pytest.fixture
async def deliver(maker, settings):
    """Deliver queued outbox emails over SMTP now, the way the worker's task does."""
    from sqlalchemy import select

    from webapp.mail.enums import EmailStatus
    from webapp.mail.models import OutboxEmail
    from webapp.mail.service import deliver_email

    async def run() -> int:
        async with maker() as session:
            ids = (
                (await session.execute(select(OutboxEmail.id).where(OutboxEmail.status == EmailStatus.QUEUED)))
                .scalars()
                .all()
            )
        for email_id in ids:
            await deliver_email(maker, settings, email_id)
        return len(ids)

    return run


@pytest.fixture(scope="session")
def settings():
    from webapp.config import load_settings

    return load_settings()


@pytest.fixture(scope="session")
async def app(settings):
    from webapp import create_app

    application = create_app(settings)
    async with application.test_app():
        yield application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def maker(app):
    """Sessions as the app role (RLS applies)."""
    return app.extensions["closedloop"]["sessionmaker"]


@pytest.fixture(scope="session")
async def owner_engine(settings):
    """The schema owner's engine, for assertions that must see every row."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(settings.database_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture
def count_rows(owner_engine):
    """count_rows('table', where='...') as the owner (not subject to RLS: superuser in tests)."""
    from sqlalchemy import text

    async def count(table: str, where: str = "true", **params) -> int:
        async with owner_engine.connect() as conn:
            return (await conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params)).scalar_one()

    return count


@pytest.fixture
def factory(maker, settings):
    from tests.factories import Factory

    return Factory(maker)


# ---------------------------------------------------------------- live processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, procs: dict, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see test-output/{name}.log")
        try:
            last = httpx.get(url + "/ready", timeout=2)
            if last.status_code == 200 and last.json()["checks"].get("scheduler", "").startswith("last tick"):
                return  # web, worker and scheduler all proved alive
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.3)
    raise RuntimeError(f"stack not ready: {last!r}")


class Stack:
    """Real processes from the Procfile (uvicorn web, taskiq worker, taskiq scheduler), started and stopped here."""

    def __init__(self, env_overrides: dict | None = None, names=("web", "worker", "scheduler"), tag: str = ""):
        from webapp.cli import procfile_processes

        self.port = _free_port()
        self.env = dict(
            os.environ,
            HOST="127.0.0.1",
            PORT=str(self.port),
            PYTHONUNBUFFERED="1",
            PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            **(env_overrides or {}),
        )
        self.commands = procfile_processes(names)
        self.tag = tag
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: list = []
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, name: str) -> None:
        """Start (or restart) one process, in its own process group."""
        log = open(OUTPUT / f"{name}{self.tag}.log", "a")
        self.logs.append(log)
        self.procs[name] = subprocess.Popen(
            self.commands[name],
            shell=True,
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str, sig=None) -> None:
        """Signal one process's whole group (SIGKILL by default: a crash, children included)."""
        import signal

        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, sig or signal.SIGKILL)
        proc.wait(15)

    def __enter__(self) -> "Stack":
        for name in self.commands:
            self.start(name)
        try:
            _wait_ready(self.url, self.procs)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        import signal

        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
            try:  # the leader may be gone while its children (taskiq's worker process) linger
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        for log in self.logs:
            log.close()


@pytest.fixture(scope="session")
def live_stack():
    """Real uvicorn web, taskiq worker and taskiq scheduler processes from the Procfile."""
    with Stack() as stack:
        yield stack.url


CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token rendered into a page."""
    match = CSRF_RE.search(html)
    assert match, "page carries no CSRF token"
    return match.group(1)


def chromium_path() -> str | None:
    """Debian's Chromium, the only browser the browser tests use."""
    return shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium") or None
