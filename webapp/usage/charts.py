"""Geometry of the usage charts: one column per UTC day and the plan's included amount as a line (server-drawn SVG,
like the simulation charts)."""

from __future__ import annotations

from webapp.simulations.charts import _nice_max
from webapp.usage.report import MetricUsage

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 200, 56, 12, 12, 40


def usage_chart(metric: MetricUsage) -> dict:
    """Columns of the running total (sums and counts) or of each day's value (peaks, latest, distinct counts),
    with the included amount as a line; `data` feeds the same tooltips as the line charts."""
    values = [float(v) for v in (metric.cumulative() if metric.additive else [v for _, v in metric.daily])]
    labels = [day.strftime("%d %b") for day, _ in metric.daily]
    limit = float(metric.included) if metric.included is not None else None
    top = _nice_max(max(values + [limit or 0], default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(values), 1)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    columns = [
        {
            "x": LEFT + i * slot + slot * 0.15, "y": y(v), "width": max(slot * 0.7, 1), "height": TOP + plot_h - y(v),
            "over": limit is not None and v > limit, "label": labels[i], "value": v,
        }
        for i, v in enumerate(values)
    ]  # fmt: skip
    step = max(1, round(len(values) / 6))
    return {
        "title": metric.name,
        "unit": metric.unit,
        "per": "running total by day" if metric.additive else "by day",
        "width": WIDTH,
        "height": HEIGHT,
        "columns": columns,
        "limit": limit,
        "limit_y": y(limit) if limit is not None else None,
        "y_ticks": [(y(top * k / 4), top * k / 4) for k in range(5)],
        "x_ticks": [(LEFT + i * slot + slot / 2, labels[i]) for i in range(0, len(values), step)],
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "x_title": "Day (UTC)",
        "data": {
            "labels": labels, "unit": metric.unit, "top": top, "columns": True,
            "geometry": [LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM, WIDTH, HEIGHT],
            "series": [{"name": metric.name, "index": 0, "values": [round(v, 3) for v in values]}],
        },
    }  # fmt: skip
