"""The engine's process pool: Monte Carlo chunks and trade-study points planned on every core.

One pool per process, spawned on first use (the caller may run threads). Work goes out as module-level functions
with their arguments; each comes back with the CPU-seconds it took in its process, which the run meters as engine
time beside its own thread's. The caller's `report` is called on every poll — that is where a cancel is noticed —
and a cancelled or failing run ends the pool's processes, so it does not keep both cores busy.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

POLL_SECONDS = 0.25  # how often the caller hears back (and may cancel) while work is out
_pool: ProcessPoolExecutor | None = None


def workers() -> int:
    """Pool size: ENGINE_PROCESSES, else one per core (at most 8)."""
    return max(1, min(int(os.environ.get("ENGINE_PROCESSES", "0")) or (os.cpu_count() or 1), 8))


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=workers(), mp_context=multiprocessing.get_context("spawn"))
    return _pool


def reset(*, kill: bool = False) -> None:
    """Drop the pool; with `kill`, end its processes now."""
    global _pool
    if _pool is not None:
        if kill:
            # ProcessPoolExecutor cannot interrupt a running task; its processes can be ended (private map)
            for process in list(getattr(_pool, "_processes", {}).values()):
                process.terminate()
        _pool.shutdown(wait=False, cancel_futures=True)
    _pool = None


def _timed(fn: Callable, args: tuple) -> tuple[object, float]:
    start = time.process_time()
    return fn(*args), time.process_time() - start


def run_pooled(calls: list[tuple[Callable, tuple]], report: Callable[[dict], None]) -> tuple[dict[int, object], float]:
    """Run each (function, arguments) on the pool: ({call's index: its result}, CPU-seconds they took there).
    `report(done so far)` is called on every poll; whatever it raises (a cancel) stops the rest."""
    pool = _executor()
    futures = {pool.submit(_timed, fn, args): i for i, (fn, args) in enumerate(calls)}
    pending, done, cpu = set(futures), {}, 0.0
    try:
        while pending:
            finished, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in finished:
                done[futures[future]], used = future.result()
                cpu += used
            report(done)
    except BrokenProcessPool:
        reset()  # a pool that lost a process stays broken: the next run starts a new one
        raise
    except BaseException:
        reset(kill=bool(pending))  # cancelled (or failing): stop what is still being planned
        raise
    finally:
        for future in futures:
            future.cancel()
    return done, cpu
