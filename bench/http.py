"""HTTP benchmark: one web process, 32 connections, fixed duration.

Run as `make bench` (python -m bench.http: the module name must not shadow the stdlib when run as a script).
(a) /health — the framework ceiling
(b) the system-check page: authenticated, tenant-scoped, 25 rows, RLS on; (c) the same on raw asyncpg
(d) the members page, 26 members and the role menu; (e) the same on raw asyncpg
(f) the members JSON list with an API key; (g) the same on raw asyncpg
(h) JSON login (argon2id verify + session and two tokens); (i) the same on raw asyncpg
Each raw-asyncpg twin (bench/baseline_app.py) renders the same template or JSON shape.
Prints req/s, p50, p99 and each ratio. Uses wrk (installed from Debian when missing and root).
Not a test: nothing here asserts; the figures go into closing notes and docs/scaling.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

OUT = ROOT / "bench" / "results"


def ensure_wrk() -> str:
    """wrk from PATH, or from Debian when we are root."""
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            check=False,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
            stdout=subprocess.DEVNULL,
        )
        path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is required for the benchmark: apt-get install wrk")
    return path


def parse_wrk(output: str) -> dict:
    """req/s and latency percentiles from `wrk --latency` output."""

    def to_ms(value: str) -> float:
        number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", output).group(1))
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    return {
        "rps": rps,
        "requests": requests,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else None,
    }


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(
    wrk: str,
    url: str,
    seconds: int,
    connections: int,
    headers: dict[str, str],
    script: Path | None = None,
    pid: int | None = None,
) -> dict:
    """One wrk run with two threads (this machine has two cores, one also serving); with the server's `pid`, also
    the server's CPU per request, which a shared machine's swings disturb far less than requests per second."""
    cmd = [wrk, "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    for key, value in headers.items():
        cmd += ["-H", f"{key}: {value}"]
    before = process_cpu_seconds(pid) if pid else None
    output = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    result = parse_wrk(output)
    if pid:
        result["cpu_ms_per_request"] = (process_cpu_seconds(pid) - before) * 1000 / max(1, result["requests"])
    return result


def paired(run, ours: str, twin: str, headers: dict, rounds: int = 2) -> tuple[dict, dict]:
    """Our route and its twin measured in turns (ours, twin, twin, ours, ...) so a drift of the machine falls on
    both; per side: mean req/s and p50/p99 of the runs, total CPU per request."""
    runs = {"ours": [], "twin": []}
    for _ in range(rounds):
        for side in ("ours", "twin", "twin", "ours"):
            runs[side].append(run(ours if side == "ours" else twin, headers))
    merged = []
    for side in ("ours", "twin"):
        found = runs[side]
        total = sum(r["requests"] for r in found)
        merged.append({
            "rps": sum(r["rps"] for r in found) / len(found),
            "p50_ms": sorted(r["p50_ms"] for r in found)[len(found) // 2],
            "p99_ms": max(r["p99_ms"] for r in found),
            "non_2xx": sum(r["non_2xx"] for r in found),
            "socket_errors": next((r["socket_errors"] for r in found if r["socket_errors"]), None),
            "requests": total,
            "cpu_ms_per_request": sum(r.get("cpu_ms_per_request", 0) * r["requests"] for r in found) / max(1, total),
        })  # fmt: skip
    return merged[0], merged[1]


def start_services():
    """Embedded PostgreSQL and Redis under var/bench, migrated to head; the caller stops them."""
    from webapp.cli import Services, migrate

    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("CLOSEDLOOP_ENV", "benchmark")  # no template reload checks, like a deployment
    services = Services(root=ROOT / "var" / "bench", database="closedloop_bench").start()
    try:
        migrate()
    except BaseException:
        services.stop()
        raise
    return services


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


async def seed(database_url_env: dict, rows: int, members: int = 25) -> dict:
    """An organization with `rows` finished checks, `members` more members and an API key."""
    from sqlalchemy import insert

    from webapp.apikeys.service import create_key
    from webapp.config import load_settings
    from webapp.core.db import make_engine, make_sessionmaker
    from webapp.core.ids import new_id
    from webapp.core.tenancy import RequestContext, scope_session
    from webapp.core.transaction import unit_of_work
    from webapp.iam.catalog import system_role_permissions
    from webapp.identity.service import create_user
    from webapp.ops.enums import CheckStatus
    from webapp.ops.models import SystemCheck
    from webapp.organizations.service import add_member, create_organization
    from webapp.privacy import consents
    from webapp.privacy.enums import ConsentMethod

    settings = load_settings()
    engine = make_engine(settings.database_url, settings.app_db_role, pool_size=2)
    email, password, slug = f"bench-{int(time.time())}@example.org", "bench-password-123", f"bench-{int(time.time())}"
    steps = [
        {"name": n, "status": "ok", "detail": "ok", "elapsed_ms": 1.0}
        for n in ("postgres", "redis", "worker", "scheduler")
    ]
    async with unit_of_work(make_sessionmaker(engine)) as session:
        user = await create_user(session, None, email=email, name="Bench User", password=password)
        org = await create_organization(session, None, slug=slug, name="Bench Base", owner_id=user.id)
        # the terms accepted as sign-up records them: the bench signs in through the form, which asks otherwise
        await consents.accept_due(session, None, user.id, ConsentMethod.SIGNUP)
        await scope_session(session, org_id=org.id, user_id=user.id)
        await session.execute(
            insert(SystemCheck),
            [
                {
                    "id": new_id(),
                    "organization_id": org.id,
                    "requested_by": user.id,
                    "status": CheckStatus.SUCCEEDED,
                    "progress": 100,
                    "steps": steps,
                    "attempt": 1,
                }
                for _ in range(rows)
            ],
        )
        for i in range(members):
            crew = await create_user(
                session, None, email=f"crew{i}-{slug}@example.org", name=f"Crew Member {i:02d}", password=password
            )
            await add_member(session, None, org_id=org.id, user_id=crew.id, role="crew_member")
        ctx = RequestContext(
            user_id=user.id, org_id=org.id, org_slug=slug, role="owner", permissions=system_role_permissions("owner")
        )
        _, api_key = await create_key(session, ctx, name="bench", permissions=["members:read"], expires_at=None)
    await engine.dispose()
    return {"email": email, "password": password, "slug": slug, "org_id": str(org.id), "api_key": api_key}


async def raise_api_limits() -> None:
    """The platform's API limits at their maximum, as staff would set them: a benchmark's burst must be counted
    (the twins count too) but not refused."""
    from webapp.config import load_settings
    from webapp.core.db import make_engine, make_sessionmaker
    from webapp.core.tenancy import RequestContext
    from webapp.core.transaction import unit_of_work
    from webapp.settings.enums import SettingScope
    from webapp.settings.service import set_setting

    settings = load_settings()
    engine = make_engine(settings.database_url, settings.app_db_role, pool_size=1)
    staff = RequestContext(is_platform_admin=True)
    async with unit_of_work(make_sessionmaker(engine)) as session:
        for key in ("api.rate_limit_key", "api.rate_limit_user", "api.rate_limit_organization"):
            await set_setting(session, staff, key, "1000000", scope=SettingScope.SYSTEM)
    await engine.dispose()


def start_web_pair(procs: list) -> tuple[str, str]:
    """Start the app and its raw-asyncpg twin (one uvicorn process each), wait for both; returns their URLs."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    uvicorn = [
        sys.executable,
        "-m",
        "uvicorn",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--host",
        "127.0.0.1",
    ]
    urls = []
    for port, target, log in ((8765, "webapp.asgi:app", "web.log"), (8766, "bench.baseline_app:app", "baseline.log")):
        procs.append(start(uvicorn + ["--port", str(port), target], env, OUT / log))
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        wait_http(url + "/health")
    return urls[0], urls[1]


def session_cookie_name() -> str:
    """The session cookie's name under the current COOKIE_SECURE."""
    return "__Host-cl_session" if os.environ.get("COOKIE_SECURE") == "1" else "cl_session"


def login_cookie(base: str, email: str, password: str, cookie_name: str) -> str:
    with httpx.Client(base_url=base) as http:
        page = http.get("/login").text
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
        response = http.post("/login", data={"csrf_token": token, "email": email, "password": password})
        assert response.status_code == 303, response.status_code
        return f"{cookie_name}={http.cookies[cookie_name]}"


def _argon2_verify_ms(password: str, rounds: int = 5) -> float:
    """CPU time of one password check with our argon2id parameters (what bounds login throughput)."""
    from webapp.identity.passwords import hash_password, verify_password

    stored = hash_password(password)
    started = time.perf_counter()
    for _ in range(rounds):
        verify_password(stored, password)
    return (time.perf_counter() - started) * 1000 / rounds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    wrk = ensure_wrk()
    OUT.mkdir(parents=True, exist_ok=True)

    services = start_services()
    procs = []
    try:
        seeded = asyncio.run(seed(os.environ, rows=60))
        asyncio.run(raise_api_limits())
        email, password, slug = seeded["email"], seeded["password"], seeded["slug"]
        app_url, base_url = start_web_pair(procs)
        cookie_name = session_cookie_name()
        cookie = login_cookie(app_url, email, password, cookie_name)
        page = f"/o/{slug}/ops/check"
        same = httpx.get(app_url + page, headers={"Cookie": cookie}).text.count("<tr>")
        assert same == httpx.get(base_url + page, headers={"Cookie": cookie}).text.count("<tr>") > 25
        members_page = f"/o/{slug}/members"
        shown = [httpx.get(url + members_page, headers={"Cookie": cookie}).text.count("Crew Member")
                 for url in (app_url, base_url)]  # fmt: skip
        assert shown[0] == shown[1] >= 25, shown
        members_json, key_header = (
            f"/api/v1/organizations/{seeded['org_id']}/members",
            {"Authorization": f"Bearer {seeded['api_key']}"},
        )
        real_items = httpx.get(app_url + members_json, headers=key_header).json()["items"]
        raw_items = httpx.get(base_url + members_json, headers=key_header).json()["items"]
        assert real_items == raw_items, (real_items[:1], raw_items[:1])
        login_script = OUT / "login.lua"
        login_script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = '
            + json.dumps(json.dumps({"email": email, "password": password, "organization": slug}))
            + "\n"
        )
        for url in (app_url, base_url):
            assert (
                httpx.post(
                    url + "/api/v1/auth/login", json={"email": email, "password": password, "organization": slug}
                ).status_code
                == 201
            )
        run = lambda url, headers, script=None: run_wrk(wrk, url, args.seconds, args.connections, headers, script)  # noqa: E731
        pids = {app_url: procs[0].pid, base_url: procs[1].pid}
        measured = lambda url, headers: run_wrk(  # noqa: E731
            wrk, url, args.seconds, args.connections, headers, pid=pids[url.split("/api/")[0]]
        )
        key_json = paired(measured, app_url + members_json, base_url + members_json, key_header)
        results = {
            "health": run(app_url + "/health", {}),
            "page_rls": run(app_url + page, {"Cookie": cookie}),
            "page_raw_asyncpg": run(base_url + page, {"Cookie": cookie}),
            "members_page": run(app_url + members_page, {"Cookie": cookie}),
            "members_page_raw": run(base_url + members_page, {"Cookie": cookie}),
            "members_json_key": key_json[0],
            "members_json_key_raw": key_json[1],
            "login": run(app_url + "/api/v1/auth/login", {}, login_script),
            "login_raw": run(base_url + "/api/v1/auth/login", {}, login_script),
        }
        argon2_ms = _argon2_verify_ms(password)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        services.stop()

    ratios = {
        "check page (b)/(c)": results["page_rls"]["rps"] / results["page_raw_asyncpg"]["rps"],
        "members page (d)/(e)": results["members_page"]["rps"] / results["members_page_raw"]["rps"],
        "members JSON, API key (f)/(g)": results["members_json_key"]["rps"] / results["members_json_key_raw"]["rps"],
        "JSON login (h)/(i)": results["login"]["rps"] / max(results["login_raw"]["rps"], 0.01),
    }
    print(f"\nClosedLoop HTTP benchmark: 1 web process, {args.connections} connections, {args.seconds} s each (wrk)\n")
    print(f"{'target':<40}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    labels = {
        "health": "(a) GET /health",
        "page_rls": "(b) check page, 25 rows, RLS, ORM",
        "page_raw_asyncpg": "(c) same page, raw asyncpg",
        "members_page": "(d) members page, 26 members",
        "members_page_raw": "(e) same page, raw asyncpg",
        "members_json_key": "(f) members JSON, API key",
        "members_json_key_raw": "(g) same JSON, raw asyncpg",
        "login": "(h) JSON login (argon2id)",
        "login_raw": "(i) same login, raw asyncpg",
    }
    for key, r in results.items():
        print(f"{labels[key]:<40}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{r['non_2xx']:>10}")
    print()
    for name, value in ratios.items():
        print(f"ratio {name:<34} = {value:.2f}   (target >= 0.75)")
    cpu = results["members_json_key_raw"]["cpu_ms_per_request"] / results["members_json_key"]["cpu_ms_per_request"]
    print(
        f"members JSON, API key, server CPU per request: ours {results['members_json_key']['cpu_ms_per_request']:.3f}"
        f" ms, twin {results['members_json_key_raw']['cpu_ms_per_request']:.3f} ms, ratio {cpu:.2f} (2 rounds, turns)"
    )
    print(
        f"p99 (b) = {results['page_rls']['p99_ms']:.1f} ms, (d) = {results['members_page']['p99_ms']:.1f} ms "
        f"(target < 100); one argon2id verify = {argon2_ms:.1f} ms of CPU, so 2 cores cap logins near "
        f"{2000 / argon2_ms:.0f}/s"
    )
    (OUT / "http.json").write_text(
        json.dumps(
            {
                "results": results,
                "ratios": ratios,
                "argon2_verify_ms": argon2_ms,
                "connections": args.connections,
                "seconds": args.seconds,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
