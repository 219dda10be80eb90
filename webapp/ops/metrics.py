"""Prometheus metrics: request latency and status per process, queue depth and job durations from Redis."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


class WebMetrics:
    """Per-process request metrics on a private registry (tests build several apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "closedloop_http_request_duration_seconds",
            "Request latency by route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "closedloop_http_requests_total",
            "Requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        self.latency.labels(method, route).observe(seconds)
        self.requests.labels(method, route, str(status)).inc()


def job_metrics_key(namespace: str, task: str) -> str:
    """Redis hash holding a task's duration histogram (shared by every worker)."""
    return f"{namespace}:metrics:job:{task}"


async def record_job_duration(redis, namespace: str, task: str, seconds: float, ok: bool) -> None:
    """Add one job duration to the shared histogram in Redis (workers call this)."""
    key = job_metrics_key(namespace, task)
    pipe = redis.pipeline(transaction=False)
    for bound in JOB_BUCKETS:
        if seconds <= bound:
            pipe.hincrby(key, f"le:{bound}", 1)
    pipe.hincrby(key, "count", 1)
    pipe.hincrbyfloat(key, "sum", seconds)
    pipe.hincrby(key, "ok" if ok else "failed", 1)
    pipe.sadd(f"{namespace}:metrics:jobs", task)
    await pipe.execute()


async def collect_shared(redis, namespace: str, queue_name: str) -> list:
    """Metric families read from Redis at scrape time: queue depth and job durations."""
    families = []
    depth = GaugeMetricFamily("closedloop_queue_depth", "Task stream entries by state", labels=["state"])
    length = await redis.xlen(queue_name) if await redis.exists(queue_name) else 0
    pending = 0
    if length:
        for group in await redis.xinfo_groups(queue_name):
            pending += int(group.get("pending", 0))
            lag = group.get("lag")
            if lag is not None:
                depth.add_metric(["waiting"], float(lag))
    depth.add_metric(["in_progress"], float(pending))
    depth.add_metric(["stream_length"], float(length))
    families.append(depth)
    jobs = HistogramMetricFamily("closedloop_job_duration_seconds", "Background job durations", labels=["task"])
    for task in sorted(await redis.smembers(f"{namespace}:metrics:jobs")):
        data = await redis.hgetall(job_metrics_key(namespace, task))
        buckets = [(str(b), float(data.get(f"le:{b}", 0))) for b in JOB_BUCKETS]
        buckets.append(("+Inf", float(data.get("count", 0))))
        jobs.add_metric([task], buckets, sum_value=float(data.get("sum", 0)))
    families.append(jobs)
    return families


class Stopwatch:
    """Monotonic timer for request and job durations."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        """Seconds since start."""
        return time.perf_counter() - self.start
