"""Command line: `python -m webapp.cli dev | stop | reset | migrate | seed-demo | staff grant|revoke EMAIL`."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from webapp.config import PROJECT_ROOT


class Services:
    """Embedded Postgres/Redis when DATABASE_URL/REDIS_URL are unset; exports the URLs to os.environ."""

    def __init__(self, root: Path | None = None, database: str = "closedloop"):
        from webapp.devserver import var_dir

        self.root, self.database = root or var_dir(), database
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
    from webapp.config import load_settings
    from webapp.core.db import make_engine, make_sessionmaker
    from webapp.demo import load_demo

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


def staff(action: str, email: str) -> int:
    """Grant or revoke platform staff (audited): the first staff member is made here, not in SQL."""
    from webapp.admin.service import set_platform_staff
    from webapp.config import load_settings
    from webapp.core.db import make_engine, make_sessionmaker
    from webapp.core.errors import NotFound
    from webapp.core.transaction import unit_of_work

    settings = load_settings()

    async def run() -> bool:
        engine = make_engine(settings.database_url, settings.app_db_role, pool_size=1)
        try:
            async with unit_of_work(make_sessionmaker(engine)) as session:
                return await set_platform_staff(session, email, staff=action == "grant")
        finally:
            await engine.dispose()

    try:
        changed = asyncio.run(run())
    except NotFound as exc:
        print(exc.message, file=sys.stderr)
        return 1
    if changed:
        print(f"{email} {'is now' if action == 'grant' else 'is no longer'} platform staff.")
    else:
        print(f"{email} {'already was' if action == 'grant' else 'was not'} platform staff.")
    return 0


def news(subject: str, text: str) -> int:
    """Email product news to everyone who asked for it (their consent is checked again as each one goes out)."""
    from webapp.config import load_settings
    from webapp.core.db import make_engine, make_sessionmaker
    from webapp.core.transaction import unit_of_work
    from webapp.privacy.marketing import send_product_news
    from workers.broker import broker

    settings = load_settings()

    async def run() -> int:
        engine = make_engine(settings.database_url, settings.app_db_role, pool_size=1)
        await broker.startup()  # each message is handed to the workers once the transaction commits
        try:
            async with unit_of_work(make_sessionmaker(engine)) as session:
                return await send_product_news(session, subject, text, base_url=settings.base_url)
        finally:
            await broker.shutdown()
            await engine.dispose()

    try:
        queued = asyncio.run(run())
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"product news queued for {queued} {'person' if queued == 1 else 'people'} who asked for it")
    return 0


def audit_verify(org: str | None) -> int:
    """Recompute the audit chains (one organization's by address or id, or all) and name the first broken link."""
    from sqlalchemy import select

    from webapp.audit.checkpoints import signing_key
    from webapp.audit.verify import chains, verify_chain
    from webapp.config import load_settings
    from webapp.core.db import make_engine, make_sessionmaker
    from webapp.core.tenancy import enable_rls_bypass
    from webapp.core.transaction import unit_of_work
    from webapp.organizations.models import Organization

    settings = load_settings()

    async def run() -> int:
        engine = make_engine(settings.database_url, settings.app_db_role, pool_size=1)
        broken = 0
        try:
            async with unit_of_work(make_sessionmaker(engine)) as session:
                await enable_rls_bypass(session, reason="audit chain verification (command line)")
                names = {o.id: o.slug for o in (await session.execute(select(Organization))).scalars()}
                if org is None:
                    targets = await chains(session)
                else:
                    matched = [i for i, slug in names.items() if org in (slug, str(i))]
                    if not matched:
                        print(f"no organization {org!r}", file=sys.stderr)
                        return 2
                    targets = matched
                seed = settings.audit_signing_seed()
                public = signing_key(seed).public_key() if seed else None
                for target in targets:
                    report = await verify_chain(session, target, public)
                    label = names.get(target, str(target)) if target else "platform"
                    if report.ok:
                        print(f"ok      {label}: {report.rows} rows, {report.redacted} redacted by erasure")
                    else:
                        broken += 1
                        where = f"row {report.broken.seq}" if report.broken.seq else "chain"
                        row = f" ({report.broken.row_id})" if report.broken.row_id else ""
                        print(f"BROKEN  {label}: {where}{row}: {report.broken.problem}")
        finally:
            await engine.dispose()
        return 1 if broken else 0

    return asyncio.run(run())


def revision(message: str) -> None:
    """A new migration autogenerated from the models against an up-to-date database (the embedded one unless
    DATABASE_URL is set); review it before committing."""
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    migrate()
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    head = ScriptDirectory.from_config(config).get_current_head() or "0"
    # revisions are numbered 0001, 0002, …: the next one follows the head
    command.revision(config, message=message, autogenerate=True, rev_id=f"{int(head) + 1:04d}")


def reset() -> int:
    """Stop everything, then delete the embedded data (Postgres, Redis, the dev secret); the virtualenv stays."""
    import shutil

    from webapp.devserver import stop, var_dir

    root = var_dir()
    stop(root)
    for name in ("postgres", "redis", "secret_key", "dev.pids", "dev.lock"):
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    print(f"removed the data in {root}; `make dev` starts afresh (demo data included)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m webapp.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dev", help="embedded services, migrations, demo data, web + worker + scheduler")
    commands.add_parser("stop", help="stop a running `make dev` (or what a dead one left behind)")
    commands.add_parser("reset", help="stop, then delete the embedded data")
    commands.add_parser("migrate", help="alembic upgrade head")
    commands.add_parser("seed-demo", help="load the demo organization and users (idempotent)")
    revision_cmd = commands.add_parser("revision", help="autogenerate a migration from the models")
    revision_cmd.add_argument("message")
    staff_cmd = commands.add_parser("staff", help="grant or revoke platform staff (audited)")
    staff_cmd.add_argument("action", choices=["grant", "revoke"])
    staff_cmd.add_argument("email")
    news_cmd = commands.add_parser("news", help="email product news to the people who asked for it")
    news_cmd.add_argument("--subject", required=True)
    news_cmd.add_argument("--text-file", type=argparse.FileType(encoding="utf-8"), default=sys.stdin,
                          help="the message as plain text (default: standard input)")  # fmt: skip
    audit_cmd = commands.add_parser("audit", help="verify the audit log's hash chains")
    audit_cmd.add_argument("action", choices=["verify"])
    audit_cmd.add_argument("--org", help="one organization (address or id); default: every chain")
    args = parser.parse_args(argv)
    if args.command == "dev":
        from webapp.devserver import run

        return run()
    if args.command == "stop":
        from webapp.devserver import stop

        return stop()
    if args.command == "reset":
        return reset()
    services = Services().start()
    try:
        if args.command == "migrate":
            migrate()
        elif args.command == "staff":
            return staff(args.action, args.email)
        elif args.command == "audit":
            return audit_verify(args.org)
        elif args.command == "news":
            return news(args.subject, args.text_file.read())
        elif args.command == "revision":
            revision(args.message)
        else:
            print("\n".join(seed_demo()) or "demo data already present")
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
