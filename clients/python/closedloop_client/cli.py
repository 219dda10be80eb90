"""`closedloop`: the common jobs from a terminal — log in, list missions and products, start a simulation run and
follow its progress live, download its results. Run `closedloop --help`."""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from closedloop_client.client import ApiError, Client
from closedloop_client.types import RUN_TYPES, RunState, Tokens

EXIT_RUN_UNSUCCESSFUL, EXIT_API_ERROR, EXIT_NOT_LOGGED_IN = 1, 3, 4


class NotLoggedIn(Exception):
    """No credential: neither a stored login nor CLOSEDLOOP_API_KEY."""


def config_path() -> Path:
    """Where a login is kept: $CLOSEDLOOP_CONFIG, else ~/.config/closedloop/credentials.json."""
    default = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "closedloop" / "credentials.json"
    return Path(os.environ.get("CLOSEDLOOP_CONFIG") or default)


def _save(url: str, tokens: Tokens) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # tokens are secrets: only you read them
    with os.fdopen(fd, "w") as out:
        json.dump({"url": url, "tokens": tokens}, out)


def connect() -> Client:
    """A client from CLOSEDLOOP_API_KEY (+ CLOSEDLOOP_URL) or from the stored login (kept fresh as it refreshes)."""
    key = os.environ.get("CLOSEDLOOP_API_KEY")
    if key:
        return Client(os.environ.get("CLOSEDLOOP_URL", "http://127.0.0.1:8000"), api_key=key)
    path = config_path()
    if not path.exists():
        raise NotLoggedIn
    stored = json.loads(path.read_text())
    url = stored["url"]
    return Client(url, tokens=stored["tokens"], on_tokens=lambda tokens: _save(url, tokens))


def _password() -> str:
    if os.environ.get("CLOSEDLOOP_PASSWORD"):
        return os.environ["CLOSEDLOOP_PASSWORD"]
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass("Password: ")


def cmd_login(args: argparse.Namespace) -> int:
    """Sign in and keep the tokens for the next commands."""
    client = Client.login(args.url, args.email, _password(), args.organization, args.totp)
    _save(client.base_url, client.tokens)
    org = client.organization()
    print(f"Logged in to {org['name']} ({org['slug']}) as {args.email}.")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    """End the stored login on the server and forget it here."""
    with connect() as client:
        client.logout()
    config_path().unlink(missing_ok=True)
    print("Logged out.")
    return 0


def cmd_organization(args: argparse.Namespace) -> int:
    """Which organization the credential acts in, and your role there."""
    with connect() as client:
        org = client.organization()
    _emit(args, org, lambda: print(f"{org['name']} ({org['slug']}, {org['id']}) — role: {org.get('role') or '-'}"))
    return 0


def cmd_missions(args: argparse.Namespace) -> int:
    """The organization's missions."""
    with connect() as client:
        org = client.organization()["id"]
        missions = list(client.missions(org, status=args.status, q=args.q))
    _emit(args, missions, lambda: _table(missions, ["id", "name", "status", "destination", "crew_size"]))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    """A mission's simulation runs, newest first."""
    with connect() as client:
        runs = list(client.runs(args.mission_id))
    _emit(args, runs, lambda: _table(runs, ["id", "name", "run_type", "status", "progress_percent", "created_at"]))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Start a simulation run; with --follow, show its progress until it ends."""
    config: dict[str, Any] = json.loads(args.config) if args.config else {}
    for name in ("target", "time_horizon_days", "scenarios", "seed"):
        if getattr(args, name) is not None:
            config[name] = getattr(args, name)
    with connect() as client:
        run = client.start_run(args.mission_id, args.type, config, args.name)
        if not args.follow:
            _emit(args, run, lambda: print(run["id"]))
            return 0
        print(f"Run {run['id']} queued.", file=sys.stderr)
        return _follow(client, run["id"], args)


def cmd_follow(args: argparse.Namespace) -> int:
    """Show a run's progress live until it ends."""
    with connect() as client:
        return _follow(client, args.run_id, args)


def cmd_results(args: argparse.Namespace) -> int:
    """Download a finished run: status, KPIs and per-day results as JSON (to a file with -o)."""
    with connect() as client:
        run = client.run(args.run_id)
    text = json.dumps(run, indent=2, sort_keys=True)
    if args.output:
        Path(args.output).write_text(text + "\n")
        print(f"Run {run['id']} ({run['status']}) written to {args.output}.", file=sys.stderr)
    else:
        print(text)
    return 0 if run["status"] == "succeeded" else EXIT_RUN_UNSUCCESSFUL


def cmd_products(args: argparse.Namespace) -> int:
    """The organization's products (recorded, or planned by runs) as a table, JSON or CSV."""
    columns = ["id", "mission_id", "product_type", "quantity_kg", "produced_at", "kind"]
    with connect() as client:
        org = client.organization()["id"]
        products = list(client.products(org, mission_id=args.mission, kind=args.kind, product_type=args.type))
    if args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(products)
        return 0
    _emit(args, products, lambda: _table(products, columns))
    return 0


def _follow(client: Client, run_id: str, args: argparse.Namespace) -> int:
    bar = _Progress(sys.stderr)
    run = client.wait_for_run(run_id, bar.show)
    bar.end(f"{run['status']}: {run['message'] or run['error'] or ''}".rstrip(": "))
    if args.json:
        print(json.dumps(run, indent=2, sort_keys=True))
    return 0 if run["status"] == "succeeded" else EXIT_RUN_UNSUCCESSFUL


class _Progress:
    """A progress bar on a terminal; one line per change when the output is a file or a pipe."""

    def __init__(self, out):
        self.out, self.live, self.last = out, out.isatty(), None

    def show(self, state: RunState) -> None:
        line = f"[{'#' * (state['progress'] // 5):<20}] {state['progress']:3d}%  {state['status']}  {state['message']}"
        if line == self.last:
            return
        self.last = line
        self.out.write(f"\r\033[2K{line}" if self.live else line + "\n")
        self.out.flush()

    def end(self, summary: str) -> None:
        self.out.write(("\n" if self.live else "") + summary + "\n")


def _emit(args: argparse.Namespace, data: Any, human) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        human()


def _table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    for row in [columns, *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def parser() -> argparse.ArgumentParser:
    """The command line: one subcommand a job."""
    top = argparse.ArgumentParser(
        prog="closedloop",
        description="ClosedLoop from a terminal. Credentials: `closedloop login`, or CLOSEDLOOP_API_KEY and "
        "CLOSEDLOOP_URL for an API key.",
    )
    sub = top.add_subparsers(dest="command", required=True)

    def add(name: str, handler, help_text: str, json_flag: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        if json_flag:
            p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        return p

    p = add("login", cmd_login, "sign in (password from CLOSEDLOOP_PASSWORD, standard input or a prompt)", False)
    p.add_argument("--url", required=True, help="where ClosedLoop runs, e.g. https://closedloop.example.org")
    p.add_argument("--email", required=True)
    p.add_argument("--organization", required=True, help="its address (slug) or id")
    p.add_argument("--totp", help="a current two-factor code (or a recovery code)")
    add("logout", cmd_logout, "end the stored login", False)
    add("organization", cmd_organization, "the organization you act in")
    p = add("missions", cmd_missions, "list missions")
    p.add_argument("--status", help="planning, active, completed or aborted")
    p.add_argument("--q", help="words the name or description starts with")
    p = add("runs", cmd_runs, "list a mission's simulation runs")
    p.add_argument("mission_id")
    p = add("run", cmd_run, "start a simulation run")
    p.add_argument("mission_id")
    p.add_argument("--type", required=True, choices=list(RUN_TYPES))
    p.add_argument("--name")
    p.add_argument("--target", help="the product to maximise (default brick)")
    p.add_argument("--days", dest="time_horizon_days", type=int, help="the horizon in days (default 30)")
    p.add_argument("--scenarios", type=int, help="monte_carlo: how many scenarios")
    p.add_argument("--seed", type=int)
    p.add_argument("--config", help="the whole config as JSON (the flags above override its fields)")
    p.add_argument(
        "--follow", action="store_true", help="show progress until the run ends (exit 1 unless it succeeded)"
    )
    p = add("follow", cmd_follow, "show a run's progress live until it ends")
    p.add_argument("run_id")
    p = add("results", cmd_results, "download a run with its results as JSON", False)
    p.add_argument("run_id")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p = add("products", cmd_products, "list products")
    p.add_argument("--mission", help="one mission's id")
    p.add_argument("--kind", choices=["recorded", "planned"])
    p.add_argument("--type", help="a product type, e.g. brick")
    p.add_argument("--csv", action="store_true", help="print CSV")
    return top


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status says how it went (0 done, 1 run not successful, 3 API error, 4 no login)."""
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except NotLoggedIn:
        print("Not logged in: run `closedloop login`, or set CLOSEDLOOP_API_KEY.", file=sys.stderr)
        return EXIT_NOT_LOGGED_IN
    except ApiError as exc:
        print(f"error: {exc.message} ({exc.status} {exc.error})", file=sys.stderr)
        for field, problems in exc.details.get("fields", {}).items():
            print(f"  {field}: {'; '.join(problems)}", file=sys.stderr)
        return EXIT_API_ERROR


if __name__ == "__main__":
    sys.exit(main())
