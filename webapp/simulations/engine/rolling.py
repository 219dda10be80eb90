"""Rolling horizon (habitat.md §3.5, policy 2): a crew that re-plans only on what it has seen.

Each re-plan solves a 28-day window from the day's actual stock: today with today's actual module hours and crew
time, later days with what the crew can expect — modules in service at their availability 1 − MTTR/(MTBF + MTTR),
a module under repair back after its mean repair time (repairs are memoryless). The crew then carries out the plan
day by day and re-plans when something fails or comes back, when a day's plan no longer fits what is available,
and at least weekly. The window is seven single days then three week blocks, one LP kept warm across re-plans and
scenarios (only bounds change). At daily resolution a failure is known from the start of the day it happens, so
each window plans a day of generation below every wet-waste cap. Its modules wear by the hours it runs them
(engine/failures.py's FailureClock), not by the failure-free plan's.

Re-planning when nothing changed would give the same days back (the window's optimum, carried on), so the
weekly re-plan only moves the window's end.

Under a power profile each window plans its own days' light (the lunar day and night move through the window) and
opens with the storage the days before left; the crew runs each day's batches in the light and the dark as its
plan split them, so the storage it carries on is the plan's (`power` keeps each day's dark batches and storage).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from webapp.simulations.engine.errors import EngineError
from webapp.simulations.engine.failures import FailureClock, KnownFailures, day_use
from webapp.simulations.engine.lp import OBJECTIVES, PlanningLP
from webapp.simulations.engine.model import Problem
from webapp.simulations.engine.power import light_hours
from webapp.simulations.engine.sinks import Room

DAILY_DAYS = 7
WEEK_BLOCKS = 3
WINDOW_DAYS = DAILY_DAYS + 7 * WEEK_BLOCKS  # 28 days of look-ahead
REPLAN_DAYS = DAILY_DAYS  # the window's single days run out after a week
FIT_SLACK = 1e-7
BUFFER_DAYS = 1.0


class RollingHorizon:
    """The rolling-horizon policy of one problem; `run` plays one scenario."""

    def __init__(self, p: Problem, objective: str, tau: float):
        if objective not in OBJECTIVES:
            raise EngineError("The rolling-horizon policy re-plans an optimising plan, not the fixed policy.", "plan")
        self.p, self.objective, self.tau = p, objective, tau
        self.starts = np.concatenate([np.arange(DAILY_DAYS), DAILY_DAYS + 7 * np.arange(WEEK_BLOCKS)])
        self.length = np.diff(np.append(self.starts, WINDOW_DAYS)).astype(float)
        # a crew that learns of a failure only on its day keeps a day of generation below each wet-waste cap
        buffer = np.where(np.isfinite(p.wet_cap_kg), np.minimum(p.generation * BUFFER_DAYS, p.wet_cap_kg / 2), 0.0)
        window = dataclasses.replace(
            p,
            days=WINDOW_DAYS,
            hours=np.repeat(p.hours[:, :1], WINDOW_DAYS, axis=1),
            wet_cap_kg=p.wet_cap_kg - buffer,
            arrivals=None,  # the window expects each day's mean; what really arrives (a resupply) comes into its stock
            power=p.power and dataclasses.replace(p.power, light_h=self._light(0)),
        )
        self.lp = PlanningLP(window, starts=self.starts)
        planned = {s.key for s in self.lp.sinks}  # the limited sinks a window plans, in the LP's order
        self._sinks_planned = [n for n, s in enumerate(p.sinks) if s.key in planned]
        # expected share of calendar time a module in service is up (habitat.md §3.5)
        finite = np.isfinite(p.mtbf_h) & (p.mttr_h > 0)
        self.availability = np.where(finite, 1.0 - p.mttr_h / np.where(finite, p.mtbf_h + p.mttr_h, 1.0), 1.0)

    def _light(self, t: int) -> np.ndarray:
        """Lit hours of each day of the window from day t (24 a day without the lunar profile)."""
        pw = self.p.power
        if pw is None or not pw.lunar:
            return np.full(WINDOW_DAYS, 24.0)
        return light_hours(t + WINDOW_DAYS, pw.phase_h)[t:]

    def run(self, failures: FailureClock | KnownFailures, arrivals: np.ndarray | None = None) -> np.ndarray:
        """Batches (T, R) the policy carries out as `failures` come (engine/failures.py: drawn from the hours it
        runs, or given in advance), the waste arriving `arrivals` (T, I; the daily mean when not given: later days
        are always planned at the mean)."""
        p = self.p
        arriving = p.arrivals_by_day() if arrivals is None else arrivals
        T, R = p.days, len(p.recipe_keys)
        batches = np.zeros((T, R))
        stock = np.zeros(len(p.items))
        room = Room(p.sinks, p.net)  # the sinks' levels, drained greedily day by day
        # what it ran in the dark, its configurations' hours and storage by day (power.schedule lays them out)
        self.power = {"dark": np.zeros((T, R)), "sets": None, "battery": np.zeros(T)} if p.power else None
        battery = p.power.battery_kwh if p.power else 0.0  # storage starts full
        plan, planned_on = None, -REPLAN_DAYS
        for t in range(T):
            i = t - planned_on
            stale = plan is None or i >= REPLAN_DAYS
            if stale:  # weekly, on what is known before the day's running
                (plan, split), planned_on, i = self._plan(t, stock, failures, arriving[t], room, battery), t, 0
            # the day's failures come as its plan runs: something failed or came back, or the day no longer fits
            changed = failures.meet(t, day_use(p, plan[i])) and not (stale and failures.foreknown)
            store = stock + arriving[t]
            if changed or (not stale and not self._fits(plan[i], failures.hours(t), failures.crew(t), store, room)):
                (plan, split), planned_on, i = self._plan(t, stock, failures, arriving[t], room, battery), t, 0
            day = plan[i]
            batches[t] = day
            if split is not None:  # run in the light and the dark as planned: the storage the plan expected
                if self.power["sets"] is None:
                    self.power["sets"] = np.zeros((T, *split["sets"].shape[1:]))
                self.power["dark"][t], self.power["sets"][t] = split["dark"][i], split["sets"][i]
                battery = float(split["battery"][i])
                self.power["battery"][t] = battery
            stock += arriving[t] + day @ p.net
            np.maximum(stock, 0.0, out=stock)  # floating point only: the plan never takes what is not there
            room.run_day(day)
            failures.ran(t, day_use(p, day))
        return batches

    def _fits(self, day: np.ndarray, hours: np.ndarray, crew: float, store: np.ndarray, room: Room) -> bool:
        """Whether a day of an earlier plan can still run: module hours, crew time, the sinks' room, and (when waste
        arrives other than expected) the store it leaves at the day's end."""
        p = self.p
        used = np.zeros(len(p.module_keys))
        np.add.at(used, p.recipe_module, day * p.duration_h)
        if not ((used <= hours + FIT_SLACK).all() and day @ p.crew_h <= crew + FIT_SLACK and room.fits(day)):
            return False
        return bool((store + day @ p.net >= -FIT_SLACK).all())  # the day's end, as the plan and the replay count

    def _plan(
        self,
        t: int,
        stock: np.ndarray,
        failures: FailureClock | KnownFailures,
        arrived: np.ndarray,
        room: Room,
        battery: float,
    ) -> tuple[np.ndarray, dict | None]:
        """The window's daily plan from day t, on what is known at day t, and its power decisions by day (dark
        batches, storage at each day's end; None without a power profile)."""
        p = self.p
        today, crew_today, repairs = failures.hours(t), failures.crew(t), failures.repairs
        days = np.arange(t, t + WINDOW_DAYS)
        inside = days < p.days
        expected = p.hours[:, np.minimum(days, p.days - 1)] * self.availability[:, None] * inside[None, :]
        midnight = (t + 1) * 24.0
        for k, failed_at, back_at, *running in repairs:  # under repair at the end of today: back after the mean
            if failed_at < midnight < back_at:  # repair time, running meanwhile at its malfunction's factor (or not)
                back = midnight + p.mttr_h[k]
                factor = running[0] if running else 0.0
                expected[k] *= factor + (1.0 - factor) * np.clip((days * 24.0 + 24.0 - back) / 24.0, 0.0, 1.0)
        for k, failed_at, factor in failures.stranded:  # failed with no spare left: at its factor (or 0) for good
            if failed_at < midnight:
                expected[k] *= factor
        expected[:, 0] = today
        crew = np.where(inside, p.crew_h_per_day, 0.0)
        crew[0] = crew_today
        # each block plans with its days' mean budget: the LP reads a block's first day and multiplies by its length
        block = np.repeat(np.arange(len(self.starts)), self.length.astype(int))
        hours_mean = np.stack([np.bincount(block, weights=row) / self.length for row in expected])
        crew_mean = np.bincount(block, weights=crew) / self.length
        hours_in = np.zeros_like(expected)
        crew_in = np.zeros(WINDOW_DAYS)
        hours_in[:, self.starts] = hours_mean
        crew_in[self.starts] = crew_mean
        days_left = np.bincount(block, weights=inside.astype(float))
        light = self._light(t) if p.power else None
        self.lp.move_window(stock, days_left, t, arrived, room.level[self._sinks_planned], light, battery)
        plan = self.lp.solve(self.objective, tau=self.tau, elastic=True, hours=hours_in, crew=crew_in)
        return plan, self.lp.power_plan()
