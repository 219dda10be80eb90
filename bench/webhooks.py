"""Webhook intake benchmark: Stripe-signed events per second through POST /api/v1/webhooks/stripe, against a raw
twin (bench/baseline_app.py: the same stripe verification, the same INSERT on bare asyncpg, the same Redis stream
push) in the same run; then, with a real worker running, the time from an event's 200 to the subscription row
showing what it said (p50/p99 over sequential events).

Run as `make bench` (or python -m bench.webhooks). Every request carries a distinct event, signed just before the
run (wrk cycles through them from a file: its Lua has no HMAC). Not a test: nothing here asserts on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.http import OUT, ensure_wrk, parse_wrk, start, start_services, wait_http

LUA = """
local lines, n, thread_index = {}, 0, 0
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  for line in io.lines("%s") do
    local sig, body = line:match("^([^\\t]+)\\t(.*)$")
    n = n + 1
    lines[n] = {sig, body}
  end
  thread_index = tonumber(tid)
end
local i = 0
function request()
  -- thread t takes lines t+1, t+1+threads, ...: no two requests carry the same event
  local k = (i * %d + thread_index) %% n + 1
  i = i + 1
  local item = lines[k]
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Stripe-Signature"] = item[1]}, item[2])
end
"""


def signed_events(path: Path, count: int, secret: str, prefix: str) -> None:
    """`count` distinct Stripe-style events, each with its signature, one per line."""
    import stripe

    now = int(time.time())
    with path.open("w") as out:
        for i in range(count):
            body = json.dumps(
                {"id": f"evt_{prefix}_{i}_{secrets.token_hex(4)}", "object": "event", "type": "invoice.upcoming",
                 "created": now, "data": {"object": {"id": f"in_{i}", "object": "invoice", "amount_due": 4900}}},
                separators=(",", ":"),
            )  # fmt: skip
            out.write(f"{stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=now)}\t{body}\n")


def intake(wrk: str, url: str, seconds: int, connections: int, secret: str, name: str, count: int) -> dict:
    """One wrk run over freshly signed events."""
    events = OUT / f"webhooks-{name}.tsv"
    signed_events(events, count, secret, name)
    script = OUT / f"webhooks-{name}.lua"
    script.write_text(LUA % (events, 2))
    cmd = [wrk, "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", str(script), url]
    return parse_wrk(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


async def seed_subscriber() -> dict:
    """An organization paying through the sandbox (its subscription has a provider reference to update)."""
    from sqlalchemy import text

    from webapp.config import load_settings
    from webapp.core.db import make_engine, make_sessionmaker
    from webapp.core.tenancy import enable_rls_bypass
    from webapp.core.transaction import unit_of_work
    from webapp.identity.service import create_user
    from webapp.organizations.service import create_organization

    settings = load_settings()
    engine = make_engine(settings.database_url, settings.app_db_role, pool_size=2)
    slug = f"hooks-{secrets.token_hex(3)}"
    async with unit_of_work(make_sessionmaker(engine)) as session:
        user = await create_user(session, None, email=f"{slug}@example.org", name="Bench", password="bench-pass-123")
        org = await create_organization(session, None, slug=slug, name="Hook Works", owner_id=user.id)
        await enable_rls_bypass(session, reason="bench: a sandbox subscriber")
        plan = (
            await session.execute(text("SELECT id FROM billing_plans WHERE key = 'crew' AND status = 'current'"))
        ).scalar_one()
        await session.execute(
            text(
                "UPDATE billing_subscriptions SET plan_id = :p, provider = 'sandbox', provider_subscription_id = :s, "
                "provider_customer_id = 'cus_bench', seats = 5, provider_seats = 5 WHERE organization_id = :o"
            ),
            {"p": plan, "s": f"sub_{slug}", "o": org.id},
        )
    await engine.dispose()
    return {"org_id": str(org.id), "plan_id": str(plan), "subscription": f"sub_{slug}"}


async def apply_latency(url: str, secret: str, seeded: dict, samples: int) -> list[float]:
    """Send `samples` subscription updates one at a time (seats 6, 7, ...), timing each from its 200 until the
    row shows the new seats (read as the schema owner, every 5 ms)."""
    import asyncpg
    import stripe

    from webapp.config import load_settings

    dsn = load_settings().database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    timings = []
    start_time = int(time.time())
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for n in range(samples):
                seats = 6 + n
                obj = {"id": seeded["subscription"], "object": "subscription", "customer": "cus_bench",
                       "status": "active", "cancel_at_period_end": False,
                       "items": {"data": [{"quantity": seats, "price": {"recurring": {"interval": "month"}}}]},
                       "metadata": {"organization_id": seeded["org_id"], "plan_id": seeded["plan_id"]}}  # fmt: skip
                body = json.dumps({"id": f"evt_lat_{n}_{secrets.token_hex(4)}", "object": "event",
                                   "type": "customer.subscription.updated", "created": start_time + n,
                                   "data": {"object": obj}})  # fmt: skip
                header = stripe.WebhookSignature.generate_signature_header(body, secret)
                answer = await http.post(
                    "/api/v1/webhooks/sandbox", content=body,
                    headers={"Content-Type": "application/json", "Stripe-Signature": header},
                )  # fmt: skip
                taken = time.perf_counter()
                assert answer.status_code == 200, answer.text
                while True:
                    row = await conn.fetchval(
                        "SELECT provider_seats FROM billing_subscriptions WHERE organization_id = $1::uuid",
                        seeded["org_id"],
                    )
                    if row == seats:
                        break
                    if time.perf_counter() - taken > 30:
                        raise SystemExit(f"event {n} was not applied within 30 s")
                    await asyncio.sleep(0.005)
                timings.append((time.perf_counter() - taken) * 1000)
    finally:
        await conn.close()
    return timings


async def _empty_queue() -> None:
    import redis.asyncio as aioredis

    from webapp.config import load_settings
    from workers.broker import queue_name

    settings = load_settings()
    client = aioredis.from_url(settings.redis_url)
    await client.delete(queue_name(settings.redis_namespace))
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    wrk = ensure_wrk()
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_bench_" + secrets.token_hex(16))
    secret = os.environ["STRIPE_WEBHOOK_SECRET"]
    services = start_services()
    procs = []
    try:
        from webapp.config import load_settings

        sandbox_secret = load_settings().webhook_secrets("sandbox")[0]
        seeded = asyncio.run(seed_subscriber())
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
        uvicorn = [sys.executable, "-m", "uvicorn", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                   "--host", "127.0.0.1"]  # fmt: skip
        procs.append(start(uvicorn + ["--port", "8765", "webapp.asgi:app"], env, OUT / "web.log"))
        procs.append(start(uvicorn + ["--port", "8766", "bench.baseline_app:app"], env, OUT / "baseline.log"))
        app_url, twin_url = "http://127.0.0.1:8765", "http://127.0.0.1:8766"
        for url in (app_url, twin_url):
            wait_http(url + "/health")
        path = "/api/v1/webhooks/stripe"
        count = 120_000  # more than either side takes in the run: every request is a new event
        results = {
            "app": intake(wrk, app_url + path, args.seconds, args.connections, secret, "app", count),
            "twin": intake(wrk, twin_url + path, args.seconds, args.connections, secret, "twin", count),
        }
        # the intake runs queued tens of thousands of events nobody needs applied (invoice.upcoming): the queue is
        # emptied so the worker meets only the measured events
        asyncio.run(_empty_queue())
        worker = [sys.executable, "-m", "taskiq", "worker", "workers.broker:broker", "workers.registry",
                  "--workers", "1", "--max-async-tasks", "50", "--no-configure-logging"]  # fmt: skip
        procs.append(start(worker, env, OUT / "worker.log"))
        time.sleep(4)
        latencies = asyncio.run(apply_latency(app_url, sandbox_secret, seeded, args.samples))
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        services.stop()

    ratio = results["app"]["rps"] / results["twin"]["rps"]
    q = statistics.quantiles(latencies, n=100, method="inclusive")  # never beyond the max
    print(f"\nWebhook intake: 1 web process, {args.connections} connections, {args.seconds} s each (wrk)\n")
    print(f"{'target':<44}{'events/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for key, label in (("app", "(a) POST /api/v1/webhooks/stripe"), ("twin", "(b) same on raw asyncpg")):
        r = results[key]
        print(f"{label:<44}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{r['non_2xx']:>10}")
    print(f"\nratio (a)/(b) = {ratio:.2f}   (target >= 0.75)")
    print(
        f"intake -> subscription row (worker, {len(latencies)} sequential events): "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {q[98]:.1f} ms, max {max(latencies):.1f} ms"
    )
    (OUT / "webhooks.json").write_text(
        json.dumps(
            {
                "results": results,
                "ratio": ratio,
                "apply_ms": {"p50": statistics.median(latencies), "p99": q[98], "max": max(latencies)},
            },
            indent=2,
        )  # fmt: skip
    )


if __name__ == "__main__":
    main()
