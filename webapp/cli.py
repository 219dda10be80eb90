"""Command line: `python -m webapp.cli dev | migrate | seed-demo | services`."""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from webapp.settings import PROJECT_ROOT

VAR = PROJECT_ROOT / "var"


class Services:
    """Embedded Postgres/Redis when DATABASE_URL/REDIS_URL are unset; exports the URLs to os.environ."""

    def __init__(self, root: Path = VAR, database: str = "closedloop"):
        self.root, self.database = root, database
        self.postgres = self.redis = None

    def start(self) -> "Services":
        from webapp.embedded import EmbeddedPostgres, EmbeddedRedis

        if not os.environ.get("DATABASE_URL"):
            self.postgres = EmbeddedPostgres(self.root / "postgres")
            self.postgres.start()
            self.postgres.ensure_database(self.database)
            os.environ["DATABASE_URL"] = self.postgres.url(self.database)
            os.environ["CLOSEDLOOP_EMBEDDED"] = "1"
        if not os.environ.get("REDIS_URL"):
            self.redis = EmbeddedRedis(self.root / "redis")
            self.redis.start()
            os.environ["REDIS_URL"] = self.redis.url
        return self

    def stop(self) -> None:
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()


def migrate() -> None:
    """alembic upgrade head against DATABASE_URL (as the schema owner)."""
    from alembic import command
    from alembic.config import Config

    command.upgrade(Config(str(PROJECT_ROOT / "alembic.ini")), "head")


def seed_demo() -> list[str]:
    """Load the demo organization and users (idempotent)."""
    from webapp.core.db import make_engine, make_sessionmaker
    from webapp.demo import load_demo
    from webapp.settings import load_settings

    settings = load_settings()

    async def run():
        engine = make_engine(settings.database_url, settings.app_db_role, pool_size=2)
        try:
            return await load_demo(make_sessionmaker(engine), settings.demo_password)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def procfile_processes(names=("web", "worker", "scheduler")) -> dict[str, str]:
    """Commands of the Procfile's long-running processes."""
    processes = {}
    for line in (PROJECT_ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() in names:
            processes[name.strip()] = command.strip()
    return processes


def dev() -> int:
    """Embedded services, migrations, demo data, then web + worker + scheduler until Ctrl-C."""
    from honcho.manager import Manager

    services = Services().start()
    try:
        migrate()
        embedded = os.environ.get("CLOSEDLOOP_EMBEDDED") == "1"
        if embedded:
            created = seed_demo()
            if created:
                print("demo data created:", ", ".join(created))
        host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
        password = os.environ.get("CLOSEDLOOP_DEMO_PASSWORD", "moonbase-alpha-2031")
        print("\n  ClosedLoop is starting at http://%s:%s/" % (host, port))
        if embedded:
            print("  demo logins: admin@demo.closedloop.test / crew@demo.closedloop.test, password %r" % password)
        print("  Ctrl-C stops web, worker, scheduler and the embedded services.\n", flush=True)
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
                   PYTHONUNBUFFERED="1", HOST=host, PORT=port)
        manager = Manager()
        for name, command in procfile_processes().items():
            manager.add_process(name, command, env=env, cwd=str(PROJECT_ROOT))
        manager.loop()
        return manager.returncode or 0
    finally:
        services.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m webapp.cli")
    parser.add_argument("command", choices=["dev", "migrate", "seed-demo"])
    args = parser.parse_args(argv)
    if args.command == "dev":
        return dev()
    services = Services().start()
    try:
        if args.command == "migrate":
            migrate()
        else:
            print("\n".join(seed_demo()) or "demo data already present")
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
