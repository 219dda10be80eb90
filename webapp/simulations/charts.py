"""Geometry of the result charts (server-rendered SVG: no script, CSP-safe, readable without JS)."""

from __future__ import annotations

import math
from datetime import date, timedelta

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 240, 64, 12, 12, 44


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def line_chart(
    title: str,
    unit: str,
    series: list[tuple],
    *,
    limit: float | None = None,
    band: tuple[list[float], list[float]] | None = None,
    x_labels: list[str] | None = None,
    per: str = "by day",
    x_title: str = "Day of the plan",
    limit_label: str = "Budget",
    reading: str = "day by day",
    legend_at: str = "on the last day",
) -> dict:
    """Polylines (and an optional shaded band and limit line) scaled into one SVG viewBox. A series is
    (name, values) or (name, values, {"index": colour, "dashed": bool}); `x_labels` name the days (default 1, 2…).
    `data` carries the values for the tooltips static/app.js draws (every series' value on the hovered day). A None
    value (a study point the engine refused) leaves a gap in its line and no tooltip row."""
    series = [(item[0], item[1], item[2] if len(item) > 2 else {}) for item in series]
    days = max((len(values) for _, values, _ in series), default=0)
    peak = max(
        [max((v for v in values if v is not None), default=0) for _, values, _ in series]
        + [limit or 0]
        + [max(band[1], default=0) if band else 0]
    )
    top = _nice_max(peak)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / max(days - 1, 1))

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    lines = [
        {
            "name": name,
            "index": style.get("index", n) % 8,
            "dashed": style.get("dashed", False),
            "last": next((v for v in reversed(values) if v is not None), 0),
            "points": " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values) if v is not None),
        }
        for n, (name, values, style) in enumerate(series)
    ]
    area = None
    if band:
        low, high = band
        area = " ".join(
            [f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(high)]
            + [f"{x(i):.1f},{y(v):.1f}" for i, v in reversed(list(enumerate(low)))]
        )
    step = max(1, round(days / 6))
    labels = [str(x_labels[i]) if x_labels else f"Day {i + 1}" for i in range(days)]
    data = {
        "labels": labels,
        "unit": unit,
        "top": top,
        "geometry": [LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM, WIDTH, HEIGHT],
        "series": [
            {
                "name": line["name"],
                "index": line["index"],
                "values": [None if v is None else round(float(v), 3) for v in values],
            }
            for line, (_, values, _) in zip(lines, series, strict=True)
        ],
    }
    if band:
        data["series"].append({"name": "P10", "index": -1, "values": [round(float(v), 3) for v in band[0]]})
        data["series"].append({"name": "P90", "index": -1, "values": [round(float(v), 3) for v in band[1]]})
    return {
        "title": title,
        "unit": unit,
        "per": per,
        "width": WIDTH,
        "height": HEIGHT,
        "lines": lines,
        "band": area,
        "limit_y": y(limit) if limit is not None else None,
        "limit": limit,
        "limit_label": limit_label,
        "reading": reading,
        "legend_at": legend_at,
        "y_ticks": [(y(top * k / 4), top * k / 4) for k in range(5)],
        "x_ticks": [(x(i), x_labels[i] if x_labels else i + 1) for i in range(0, days, step)],
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "x_title": x_title,
        "data": data,
    }


def result_charts(results: dict, snapshot: dict) -> list[dict]:
    """The charts of one run: stored waste by material, production per day, energy per day, each limited sink's
    level, Monte Carlo band."""
    names = {item["key"]: item["name"] for item in results["items"]}
    waste = [key for key, item in ((i["key"], i) for i in results["items"]) if item["kind"] == "waste"]
    charts = [
        line_chart(
            "Waste in storage by material",
            "kg",
            [(names[k], results["inventory"][k]) for k in waste if max(results["inventory"][k], default=0) > 0],
        ),
        line_chart(
            "Production per day",
            "kg/day",
            [(names.get(k, k), v) for k, v in results["production"].items() if max(v, default=0) > 0],
        ),
        line_chart(
            "Energy per day",
            "kWh",
            [("Energy used", results["energy_kwh"])],
            limit=snapshot["mission"]["energy_budget_kwh_per_day"],
        ),
    ]
    charts += [
        line_chart(
            f"{sink['name']}: what it holds at each day's end",
            "kg",
            [("Held", sink["level"])],
            limit=sink["capacity_kg"],
            limit_label="Capacity",
        )
        for sink in results.get("sinks") or ()
        if sink["capacity_kg"] is not None
    ]
    if results.get("power"):
        charts += _power_charts(results["power"], snapshot, charts)
    mc = results.get("monte_carlo")
    if mc:
        band = mc["bands"]["target_cumulative"]
        charts.insert(
            0,
            line_chart(
                f"Cumulative {results['target']} across {mc['scenarios']} scenarios",
                "kg",
                [("P50", band["p50"]), ("No failures", _cumulative(results, results["target"]))],
                band=(band["p10"], band["p90"]),
            ),
        )
        sensitivity = mc.get("crew_fraction_sensitivity")
        if sensitivity:
            points = sensitivity["points"]
            charts.append(
                line_chart(
                    f"{results['target'].capitalize()} against repair crew time "
                    f"({sensitivity['scenarios']} scenarios each)",
                    "kg",
                    [("P50", [point["p50"] for point in points])],
                    band=([point["p10"] for point in points], [point["p90"] for point in points]),
                    x_labels=[f"{point['fraction']:.0%}" for point in points],
                    x_title="Share of a repair's hours that takes a crew member (estimate: "
                    f"{sensitivity['estimate']:.0%})",
                    per="P50, P10–P90 band",
                    reading="point by point",
                    legend_at=f"at {points[-1]['fraction']:.0%}",
                )
            )
    if results.get("trade_study"):
        charts = trade_study_charts(results["trade_study"], results["target"]) + charts
    if results.get("pareto"):
        charts.insert(0, pareto_chart(results["pareto"], results["target"]))
    return charts


# what a study chart plots of each point: (KPI key, title, unit, scale)
STUDY_CHARTS = (
    ("target_kg", "{target}", "kg", 1),
    ("recycling_rate", "Recycling rate", "%", 100),
    ("energy_kwh", "Energy used", "kWh", 1),
    ("waste_stored_kg", "Waste stored at the end", "kg", 1),
)


def _tick(value: float, unit: str) -> str:
    return f"{value:g}" if unit == "units" else f"{value:,.4g}"


def trade_study_charts(study: dict, target: str) -> list[dict]:
    """One chart per KPI over the first swept parameter; a second parameter draws one line per value."""
    axes, points = study["axes"], study["points"]
    first = axes[0]
    labels = [_tick(v, first["unit"]) for v in first["values"]]
    charts = []
    for key, title, unit, scale in STUDY_CHARTS:

        def value(point, key=key, scale=scale):
            return None if "kpis" not in point else round(point["kpis"][key] * scale, 4)

        if len(axes) == 1:
            series = [("Plan", [value(point) for point in points])]
        else:
            second, width = axes[1], len(axes[1]["values"])
            series = [
                (f"{second['label']}: {_tick(v, second['unit'])} {second['unit']}",
                 [value(points[i * width + j]) for i in range(len(first["values"]))])
                for j, v in enumerate(second["values"])
            ]  # fmt: skip
        charts.append(
            line_chart(
                f"{title.format(target=target.capitalize())} against {first['label'].lower()}",
                unit,
                series,
                x_labels=labels,
                x_title=f"{first['label']} ({first['unit']})",
                per="per plan",
                reading="value by value",
                legend_at=f"at {labels[-1]} {first['unit']}",
            )
        )
    return charts


def pareto_chart(sweep: dict, target: str) -> dict:
    """The target against waste processed or energy, point by point along the trade-off."""
    key = sweep["x_key"]
    unit, what = ("kg", "waste processed") if key == "waste_processed_kg" else ("kWh", "energy spent")
    points = sweep["points"]
    labels = [f"{point['kpis'][key]:,.0f}" for point in points]
    return line_chart(
        f"{target.capitalize()} against {what}: the trade-off",
        "kg",
        [(target.capitalize(), [point["kpis"]["target_kg"] for point in points])],
        x_labels=labels,
        x_title=f"{what.capitalize()} over the plan ({unit})",
        per="per plan on the trade-off",
        reading="point by point",
        legend_at=f"at {labels[-1]} {unit}" if labels else "",
    )


def _power_charts(power: dict, snapshot: dict, charts: list[dict]) -> list[dict]:
    """Under the lunar profile the energy chart splits light from dark (it replaces the plain one in `charts`);
    storage through the nights and the highest draw are added."""
    added = []
    if power["profile"] == "lunar":
        charts[-1] = line_chart(
            "Energy per day, in daylight and at night",
            "kWh",
            [("In daylight", power["energy_light_kwh"]), ("At night", power["energy_dark_kwh"])],
            limit=snapshot["mission"]["energy_budget_kwh_per_day"],
        )
        if power["battery_kwh"]:
            added.append(
                line_chart(
                    "Storage at the end of each day",
                    "kWh",
                    [("Stored", power["battery_end_kwh"])],
                    limit=power["battery_kwh"],
                    limit_label="Capacity",
                )
            )
    if power["peak_kw"] is not None:
        added.append(
            line_chart(
                "Highest draw at any instant",
                "kW",
                [("Peak draw", power["peak_kw_used"])],
                limit=power["peak_kw"],
                limit_label="Peak limit",
            )
        )
    return added


def _cumulative(results: dict, key: str) -> list[float]:
    total, out = 0.0, []
    for value in results["production"].get(key, []):
        total += value
        out.append(round(total, 4))
    return out


def plan_vs_record_chart(first_day: date, last_day: date, planned: dict, recorded: dict) -> dict | None:
    """Cumulative kg per product type over the mission's plan: what the latest plan schedules (dashed) beside
    what the crew recorded (solid), one colour per product. `planned`/`recorded`: {product: {date: kg}}."""
    kinds = sorted(set(planned) | set(recorded), key=lambda k: k.value)
    if not kinds or last_day < first_day:
        return None
    days = [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]

    def cumulative(by_day: dict) -> list[float]:
        total = float(sum(kg for day, kg in by_day.items() if day < first_day))
        out = []
        for day in days:
            total += float(by_day.get(day, 0))
            out.append(round(total, 4))
        return out

    series = []
    for colour, kind in enumerate(kinds):
        if kind in planned:
            series.append((f"{kind.label} planned", cumulative(planned[kind]), {"index": colour, "dashed": True}))
        series.append((f"{kind.label} recorded", cumulative(recorded.get(kind, {})), {"index": colour}))
    return line_chart(
        "Planned and recorded products",
        "kg",
        series,
        per="cumulative",
        x_labels=[day.strftime("%d %b") for day in days],
        x_title="Date",
    )
