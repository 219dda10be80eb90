"""Geometry of the result charts (server-rendered SVG: no script, CSP-safe, readable without JS)."""
from __future__ import annotations

import math

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 220, 56, 12, 12, 28


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def line_chart(title: str, unit: str, series: list[tuple[str, list[float]]], *, limit: float | None = None,
               band: tuple[list[float], list[float]] | None = None) -> dict:
    """Polylines (and an optional shaded band and limit line) scaled into one SVG viewBox."""
    days = max((len(values) for _, values in series), default=0)
    peak = max([max(values, default=0) for _, values in series] + [limit or 0] + [max(band[1], default=0) if band else 0])
    top = _nice_max(peak)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / max(days - 1, 1))

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    lines = [{"name": name, "index": n % 8, "last": values[-1] if values else 0,
              "points": " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))}
             for n, (name, values) in enumerate(series)]
    area = None
    if band:
        low, high = band
        area = " ".join([f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(high)] +
                        [f"{x(i):.1f},{y(v):.1f}" for i, v in reversed(list(enumerate(low)))])
    step = max(1, round(days / 6))
    return {
        "title": title, "unit": unit, "width": WIDTH, "height": HEIGHT, "lines": lines, "band": area,
        "limit_y": y(limit) if limit is not None else None, "limit": limit,
        "y_ticks": [(y(top * k / 4), top * k / 4) for k in range(5)],
        "x_ticks": [(x(i), i + 1) for i in range(0, days, step)],
        "left": LEFT, "right": WIDTH - RIGHT, "bottom": HEIGHT - BOTTOM,
    }


def result_charts(results: dict, snapshot: dict) -> list[dict]:
    """The charts of one run: stored waste by material, production per day, energy per day, Monte Carlo band."""
    names = {item["key"]: item["name"] for item in results["items"]}
    waste = [key for key, item in ((i["key"], i) for i in results["items"]) if item["kind"] == "waste"]
    charts = [
        line_chart("Waste in storage by material", "kg", [(names[k], results["inventory"][k]) for k in waste
                                                          if max(results["inventory"][k], default=0) > 0]),
        line_chart("Production per day", "kg/day", [(names.get(k, k), v) for k, v in results["production"].items()
                                                    if max(v, default=0) > 0]),
        line_chart("Energy per day", "kWh", [("Energy used", results["energy_kwh"])],
                   limit=snapshot["mission"]["energy_budget_kwh_per_day"]),
    ]
    mc = results.get("monte_carlo")
    if mc:
        band = mc["bands"]["target_cumulative"]
        charts.insert(0, line_chart(f"Cumulative {results['target']} across {mc['scenarios']} scenarios", "kg",
                                    [("P50", band["p50"]), ("No failures", _cumulative(results, results["target"]))],
                                    band=(band["p10"], band["p90"])))
    return charts


def _cumulative(results: dict, key: str) -> list[float]:
    total, out = 0.0, []
    for value in results["production"].get(key, []):
        total += value
        out.append(round(total, 4))
    return out
