"""The usage report over JSON, on the page and as CSV: per metric the period's total taken the metric's way (sum,
peak, distinct count), what the plan includes, the overage it comes to, and the day-by-day series."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from tests.helpers import login, token_headers
from tests.usage.test_metering import RECORD, _event, _internal
from webapp.usage import rollup


async def test_usage_per_metric_against_the_plan(client, factory, settings, maker):
    owner = await factory.org_with_owner(plan="crew")  # 1,000 runs included, 5 cents each beyond; 50 GB stored
    other = await factory.org_with_owner(plan="crew")
    now = datetime.now(UTC)
    events = [
        _event(owner.org_id, "runs-a", now, quantity=1000),
        _event(owner.org_id, "runs-b", now, quantity=3),
        _event(owner.org_id, "gb-1", now, code="storage_gb", quantity="3.5"),
        _event(owner.org_id, "gb-2", now, code="storage_gb", quantity=7),
        _event(owner.org_id, "who-1", now, code="active_users", user_id="ana"),
        _event(owner.org_id, "who-2", now, code="active_users", user_id="ana"),
        _event(owner.org_id, "who-3", now, code="active_users", user_id="ben"),
        _event(other.org_id, "runs-a", now, quantity=99),  # someone else's usage stays theirs
    ]
    assert (await client.post(RECORD, json={"events": events}, headers=_internal(settings))).status_code == 200
    await rollup.roll_up(maker)

    auth = await token_headers(client, owner)
    answer = await client.get("/api/v1/usage", headers=auth)
    assert answer.status_code == 200
    usage = await answer.get_json()
    metrics = {m["code"]: m for m in usage["metrics"]}
    runs = metrics["simulation_runs"]
    assert (runs["total"], runs["included"], runs["overage_units"], runs["overage_amount_minor"]) == (1003, 1000, 3, 15)
    assert [d["value"] for d in runs["daily"]][-1] == 1003
    assert (metrics["storage_gb"]["total"], metrics["storage_gb"]["overage_units"]) == (7, 0)
    assert metrics["active_users"]["total"] == 2
    assert metrics["active_users"]["included"] is None
    assert metrics["api_calls"]["total"] == 0
    assert usage["plan"] == "Crew" and usage["currency"] == "USD"
    previous = await (await client.get("/api/v1/usage?period=previous", headers=auth)).get_json()
    assert previous["period_end"] == usage["period_start"]
    assert {m["total"] for m in previous["metrics"]} == {0}
    assert (await client.get("/api/v1/usage?period=next", headers=auth)).status_code == 400

    await login(client, owner.email, owner.password)
    page = await client.get(f"/o/{owner.org_slug}/usage")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="usage-simulation_runs"' in html and "Included in the plan: 1,000 runs" in html
    assert "3 × $0.05 = $0.15" in html and "column-over" in html
    exported = await client.get(f"/o/{owner.org_slug}/usage.csv")
    rows = list(csv.DictReader(io.StringIO(await exported.get_data(as_text=True))))
    runs_rows = [r for r in rows if r["metric"] == "simulation_runs"]
    assert runs_rows[-1]["value"] == "1003.000000" and runs_rows[-1]["included_in_period"] == "1000"
