"""Module failures and repairs (habitat.md §3.5): an alternating renewal process, reduced to hours per day.

Time to failure is counted in operating hours, not calendar hours: a module wears while it runs, and what it runs is
what the policy carrying out the plan runs — `FailureClock` draws a scenario's failures day by day as the policy
tells it each day's hours (placed at the start of the day, or from the end of a repair). A module that is never run
never fails, and a policy that runs a module less meets its failures later. Each module draws from its own stream
(`module_streams`: the run's seed, the scenario, the module), so every policy meets the same sequence of times to
failure and repairs, each at the operating hours it reaches them. A repair takes calendar time from the moment of
failure. Repairs cost crew time only on days the failure-free plan needed the module — an idle spare waiting for a
part takes nobody's hands.

Not every failure stops a module. A share of them (`degraded_share`, a run setting) are malfunctions in BioSim's
sense: the module keeps running at a reduced rate — × 0.9, 0.75 or 0.5 for a low, medium or severe malfunction,
each equally likely — until the repair is done. Its lost hours are the reduced share of the repair's duration; the
repair still takes the crew time of a whole repair.

At daily resolution a policy learns of a day's failures at the start of that day: they are drawn on the hours it
meant to run (`meet`), and its wear on the hours it then did run (`ran`).

Spares on hand (`spares`, a Monte Carlo setting: repairs' worth carried per module) run out: each repair takes one,
and a module that fails with none left is not repaired — it is stranded for the rest of the horizon (stopped, or a
malfunction running on at its reduced rate), and takes no crew time, as there is nothing to repair it with.
"""

from __future__ import annotations

import math

import numpy as np

from webapp.simulations.engine.model import Problem, upstream_first

# share of a repair's duration that needs a crew member's hands [E: no source found; habitat.md §3.5 asks for it to
# be shown as an estimate]
REPAIR_CREW_FRACTION = 0.5
# production factor of a malfunctioning module, by intensity: low, medium, severe [BioSim-repo, habitat.md §3.5]
MALFUNCTION_FACTORS = (0.9, 0.75, 0.5)
STREAM = 0x6661696C  # keeps the failure draws apart from the waste-variation draws of the same seed
WORN = 1e-9  # wear left to a module run past its drawn failure: it fails as soon as it next runs


def planned_use(p: Problem, batches: np.ndarray) -> np.ndarray:
    """Hours each module runs on each day (K, T) under a plan's batches."""
    used = np.zeros_like(p.hours)
    np.add.at(used, p.recipe_module, (batches * p.duration_h).T)
    return used


def day_use(p: Problem, day: np.ndarray) -> np.ndarray:
    """Hours each module runs (K,) for one day's batches (R,)."""
    return np.bincount(p.recipe_module, weights=day * p.duration_h, minlength=len(p.module_keys))


def module_streams(seed: int, scenario: int, modules: int) -> list[np.random.Generator]:
    """One generator per module for one scenario: the same draws whichever policy runs it and however the
    scenarios are split into chunks."""
    return [np.random.default_rng([seed, STREAM, scenario, k]) for k in range(modules)]


class FailureClock:
    """One scenario's failures, drawn as the modules run: `meet(t, use)` at the start of each day with the hours the
    policy means to run, `ran(t, use)` at its end with the hours it did. `rngs` is one generator for every module
    or one per module (module_streams)."""

    foreknown = False  # a day's failures are known only once that day's running is known

    def __init__(
        self,
        p: Problem,
        rngs: np.random.Generator | list[np.random.Generator],
        shape: float = 1.0,
        degraded_share: float = 0.0,
        needed: np.ndarray | None = None,
        fraction: float = REPAIR_CREW_FRACTION,
        spares: int | None = None,
    ):
        K, T = len(p.module_keys), p.days
        self.p, self.shape, self.degraded_share, self.fraction = p, shape, degraded_share, fraction
        self.rngs = list(rngs) if isinstance(rngs, list) else [rngs] * K
        self.weibull_mean = math.gamma(1.0 + 1.0 / shape)
        self.needed = (p.hours if needed is None else needed) > 1e-9  # (K, T) days a repair takes crew time
        self.down = np.zeros((K, T))  # hours lost per module and day (a malfunction loses only its reduced share)
        self.repairing = np.zeros((K, T))  # hours under repair per module and day
        self.repairs: list[tuple] = []  # (module, failed at, back at, factor run at meanwhile: 0 when stopped)
        self.free = np.zeros(K)  # calendar hour from which each module runs again (the end of its last repair)
        self.back_on = np.zeros(T, dtype=bool)  # days on which a repair ends
        self.spares = np.full(K, np.inf if spares is None else float(spares))  # repairs' worth left per module
        self.stranded: list[tuple] = []  # (module, failed at, factor it runs at for good) when no spare was left
        fails = np.isfinite(p.mtbf_h) & (p.mttr_h > 0)
        self.wear = np.array([self._wear(k) if fails[k] else np.inf for k in range(K)])  # hours to the next failure

    def _wear(self, k: int) -> float:
        """A time to failure in operating hours: exponential, or Weibull with the same mean when shape ≠ 1 (BioSim's
        Weibull decider: above 1 wear-out, below 1 early failures)."""
        mtbf, rng = self.p.mtbf_h[k], self.rngs[k]
        return rng.exponential(mtbf) if self.shape == 1.0 else mtbf * rng.weibull(self.shape) / self.weibull_mean

    def _running(self, t: int, use: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) in calendar hours of each module's running on day t."""
        return np.maximum(self.free, 24.0 * t), 24.0 * t + np.minimum(use, 24.0)

    def meet(self, t: int, use: np.ndarray) -> bool:
        """Draw the failures of day t for modules meaning to run `use` (K,) hours; True when a module failed or a
        repair ended that day (what makes a crew re-plan)."""
        changed = bool(self.back_on[t])
        start, end = self._running(t, use)
        horizon = self.p.days * 24.0
        for k in np.flatnonzero(end - start > self.wear):
            rng, running = self.rngs[k], start[k]
            while running + self.wear[k] < end[k]:
                failed = running + self.wear[k]
                back = failed + rng.exponential(self.p.mttr_h[k])
                factor = 0.0
                # drawn only when asked for: runs without malfunctions draw nothing more
                if self.degraded_share > 0.0 and rng.random() < self.degraded_share:
                    factor = MALFUNCTION_FACTORS[int(rng.integers(len(MALFUNCTION_FACTORS)))]
                if self.spares[k] < 1.0:  # nothing to repair it with: down (or slowed) for good, no crew time
                    _add_interval(self.down[k], failed, horizon, 1.0 - factor)
                    self.stranded.append((k, failed, factor))
                    self.wear[k], self.free[k] = np.inf, np.inf if factor == 0.0 else failed
                    break
                self.spares[k] -= 1.0
                _add_interval(self.down[k], failed, min(back, horizon), 1.0 - factor)
                _add_interval(self.repairing[k], failed, min(back, horizon))
                self.repairs.append((k, failed, back, factor))
                if back < horizon:
                    self.back_on[int(back // 24)] = True
                self.wear[k], self.free[k], running = self._wear(k), back, back
            changed = True
        return changed

    def ran(self, t: int, use: np.ndarray) -> None:
        """Wear from the hours each module did run on day t; one run past its drawn failure (the policy ran it
        longer than it meant to) fails as soon as it next runs."""
        start, end = self._running(t, use)
        self.wear = np.maximum(self.wear - np.maximum(end - start, 0.0), WORN)

    def follow(self, use: np.ndarray) -> FailureClock:
        """Run the whole horizon at fixed hours `use` (K, T), come what may (the failure-free plan's running)."""
        for t in range(self.p.days):
            self.meet(t, use[:, t])
            self.ran(t, use[:, t])
        return self

    def hours(self, t: int) -> np.ndarray:
        """(K,) hours each module has on day t, as far as its failures are known."""
        return self.p.hours[:, t] * (24.0 - self.down[:, t]) / 24.0

    def crew(self, t: int) -> float:
        """Crew hours left for recipes on day t once repairs took their share."""
        taken = self.fraction * (self.repairing[:, t] * self.needed[:, t]).sum()
        return max(self.p.crew_h_per_day - taken, 0.0)

    def available(self) -> tuple[np.ndarray, np.ndarray]:
        """(hours (K, T), crew (T,)) over the whole horizon: the failures as they came, for a plan that knows them."""
        return available_hours(self.p, self.down), crew_after_repairs(
            self.p, self.repairing, self.needed, self.fraction
        )


class KnownFailures:
    """Failures given in advance (hours (K, T), crew (T,), the repairs and the modules stranded without spares):
    what a policy meets whatever it runs."""

    foreknown = True  # the day's hours already hold the day's failures

    def __init__(
        self, p: Problem, hours: np.ndarray, crew: np.ndarray, repairs: list[tuple] = (), stranded: list[tuple] = ()
    ):
        self.p, self._hours, self._crew, self.repairs = p, hours, crew, list(repairs)
        self.stranded = list(stranded)
        self.changed_on = np.zeros(p.days, dtype=bool)
        for _, failed_at, *_ in self.stranded:
            if failed_at < p.days * 24.0:
                self.changed_on[int(failed_at // 24)] = True
        for _, failed_at, back_at, *_ in self.repairs:
            for moment in (failed_at, back_at):
                if moment < p.days * 24.0:
                    self.changed_on[int(moment // 24)] = True

    def meet(self, t: int, use: np.ndarray) -> bool:
        """Whether a module failed or came back on day t."""
        return bool(self.changed_on[t])

    def ran(self, t: int, use: np.ndarray) -> None:
        """Nothing: these failures do not depend on what runs."""

    def hours(self, t: int) -> np.ndarray:
        """(K,) hours each module has on day t."""
        return self._hours[:, t]

    def crew(self, t: int) -> float:
        """Crew hours left for recipes on day t."""
        return float(self._crew[t])


def sample_downtime(
    p: Problem,
    rng: np.random.Generator | list[np.random.Generator],
    use: np.ndarray | None = None,
    shape: float = 1.0,
    repairs: list | None = None,
    degraded_share: float = 0.0,
    repairing: np.ndarray | None = None,
) -> np.ndarray:
    """Hours each module is down on each day (K, T) when it runs `use` (K, T; all planned hours when not given) come
    what may — the failure-free plan's failures, for a plan that re-plans knowing them. `repairs`, when given,
    receives each failure as (module, failed at, back at, factor it ran at meanwhile); `repairing` (K, T), when
    given, receives the hours each module was under repair."""
    use = p.hours if use is None else use
    clock = FailureClock(p, rng, shape, degraded_share).follow(use)
    if repairs is not None:
        repairs.extend(clock.repairs)
    if repairing is not None:
        repairing += clock.repairing
    return clock.down


def _add_interval(row: np.ndarray, start: float, end: float, weight: float = 1.0) -> None:
    first, last = int(start // 24), int(min(end, row.size * 24 - 1e-9) // 24)
    for day in range(first, last + 1):
        row[day] += weight * (min(end, (day + 1) * 24.0) - max(start, day * 24.0))


def available_hours(p: Problem, down: np.ndarray) -> np.ndarray:
    """Planned hours scaled by the share of each day the module was up."""
    return p.hours * (24.0 - down) / 24.0


def crew_after_repairs(
    p: Problem, down: np.ndarray, use: np.ndarray | None = None, fraction: float = REPAIR_CREW_FRACTION
) -> np.ndarray:
    """Crew hours per day left for recipes once repairs took their share: only repairs of modules the plan needed
    that day (`use` > 0; every planned module when not given), each taking `fraction` of its hours in crew time.
    `down` is the hours under repair (sample_downtime's `repairing` when some failures were malfunctions)."""
    needed = (p.hours if use is None else use) > 1e-9
    return np.maximum(p.crew_h_per_day - fraction * (down * needed).sum(axis=0), 0.0)


def execute_without_foresight(p: Problem, plan: np.ndarray, failures: FailureClock | KnownFailures) -> np.ndarray:
    """The failure-free plan carried out as failures come, with no re-planning: each day a module's recipes shrink
    in proportion to the hours it lost, every recipe to the crew time repairs left, and a recipe to what is in
    store (an upstream cut starves what follows). Never more than planned: the bound a crew without foresight
    gets. `failures` is met day by day with the plan's hours, and told what did run."""
    batches = plan.copy()
    used = planned_use(p, plan)
    order = upstream_first(p)
    net = p.net
    needs = [np.flatnonzero(p.inputs[r]) for r in range(len(p.recipe_keys))]  # looked up once, not per day
    per_batch = [p.inputs[r, needs[r]] for r in range(len(p.recipe_keys))]
    stock = np.zeros(len(p.items))
    arrivals = p.arrivals_by_day()
    for t in range(p.days):
        failures.meet(t, used[:, t])
        hours, crew = failures.hours(t), failures.crew(t)
        share = np.divide(hours, used[:, t], out=np.ones(len(hours)), where=used[:, t] > 1e-12).clip(max=1.0)
        day = batches[t]
        day *= share[p.recipe_module]
        crew_used = float(day @ p.crew_h)
        if crew_used > crew + 1e-12:
            day *= crew / crew_used
        stock += arrivals[t]
        for r in order:
            n = day[r]
            if n <= 0:
                continue
            if needs[r].size:
                n = max(min(n, float((stock[needs[r]] / per_batch[r]).min())), 0.0)
            day[r] = n
            stock += n * net[r]
        failures.ran(t, day_use(p, day))
    return batches
