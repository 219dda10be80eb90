"""Power (habitat.md §1.7, §3.3): each module draws its `power_kw` while it runs; a peak-kW limit on what runs at
once; the lunar day and night, with the night carried by storage (battery or regenerative fuel cell) and any
continuous night source.

The LP stays daily. Within a day, a peak limit is exact for interruptible work through *configurations*: the sets
of modules whose draws sum to at most the limit. A day is split into time spent in each maximal set, and each
module runs only inside sets that contain it, so at no instant do more modules run than the limit allows (the
configuration LP of preemptive scheduling with one shared resource). Under the lunar profile every block has a
lit and a dark part with their own configurations; each recipe's batches are split into those run in the light
and in the dark; energy used in the dark comes from the night source and storage, and storage is charged from the
lit allocation at a round-trip efficiency. `schedule` lays a plan out hour by hour, which is how the tests check
that the limit held in every hour of a lunar night.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix

from webapp.simulations.engine.errors import EngineError

SYNODIC_DAYS = 29.530589  # a lunar day and night together [habitat.md §1.7]
SYNODIC_H = SYNODIC_DAYS * 24.0
MAX_PHASE_H = 708.73  # where in the cycle a run may start (just under SYNODIC_H, a round number for the API)
LIGHT_H = SYNODIC_H / 2  # about 354 h of light, then 354 h of dark at non-polar sites
# round-trip efficiency of storage [E: lithium-ion cells are quoted at 0.90-0.95; regenerative fuel cells lower]
ROUND_TRIP = 0.9
MAX_POWERED_MODULES = 12  # configurations are subsets of the powered modules: 2^12 is still instant
PROFILES = ("continuous", "lunar")
POWER_KEYS = ("power_profile", "peak_kw", "battery_kwh", "night_kw", "lunar_phase_h")  # a run's config keys


@dataclass(frozen=True)
class PowerProfile:
    """How a run's modules are powered: the profile, the peak limit and, under the lunar profile, storage."""

    profile: str
    peak_kw: float | None
    battery_kwh: float
    night_kw: float
    phase_h: float
    light_h: np.ndarray  # (T,) lit hours of each day (24 under the continuous profile)
    efficiency: float = ROUND_TRIP

    @property
    def lunar(self) -> bool:
        """True under the lunar day/night profile."""
        return self.profile == "lunar"


def light_hours(days: int, phase_h: float) -> np.ndarray:
    """Lit hours of each day when the run starts `phase_h` hours after sunrise (light first, then dark)."""
    out = np.zeros(days)
    for t in range(days):
        a, b = lit_interval(t, phase_h)
        out[t] = b - a
    return out


def lit_interval(day: int, phase_h: float) -> tuple[float, float]:
    """The lit part [a, b) of a day in hours from its midnight; a == b when the day is dark. A lunar day and a
    night each last far longer than a day, so a day holds at most one sunrise or sunset: one interval."""
    start = (day * 24.0 + phase_h) % SYNODIC_H
    end = start + 24.0
    # lit while the cycle position is in [0, LIGHT_H) or, past one cycle, [SYNODIC_H, SYNODIC_H + LIGHT_H)
    for lo, hi in ((0.0, LIGHT_H), (SYNODIC_H, SYNODIC_H + LIGHT_H)):
        a, b = max(start, lo), min(end, hi)
        if b > a + 1e-9:
            return a - start, b - start
    return 0.0, 0.0


def _number(config: dict, key: str, what: str, default: float, low: float, high: float) -> float:
    raw = config.get(key)
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not low <= raw <= high:
        raise EngineError(f"{what} must be a number from {low:g} to {high:g}.", key)
    return float(raw)


def build_power(config: dict, days: int) -> PowerProfile | None:
    """The run's power profile from its config; None when neither a peak limit nor the lunar profile applies (the
    daily energy budget alone, as before)."""
    profile = config.get("power_profile") or "continuous"
    if profile not in PROFILES:
        raise EngineError(f"The power profile is one of {', '.join(PROFILES)}.", "power_profile")
    peak = config.get("peak_kw")
    peak = None if peak is None else _number(config, "peak_kw", "The peak power limit (kW)", 0, 0.01, 100_000)
    if profile == "continuous" and peak is None:
        return None
    phase = _number(config, "lunar_phase_h", "Hours since sunrise at the start", 0.0, 0.0, MAX_PHASE_H)
    lunar = profile == "lunar"
    return PowerProfile(
        profile=profile,
        peak_kw=peak,
        battery_kwh=_number(config, "battery_kwh", "Storage (kWh)", 0.0, 0.0, 1_000_000) if lunar else 0.0,
        night_kw=_number(config, "night_kw", "Night power (kW)", 0.0, 0.0, 100_000) if lunar else 0.0,
        phase_h=phase if lunar else 0.0,
        light_h=light_hours(days, phase) if lunar else np.full(days, 24.0),
    )


def configurations(power_kw: np.ndarray, peak: float) -> list[np.ndarray]:
    """Maximal sets of powered modules (indices) whose draws sum to at most `peak`; a module drawing nothing is
    never limited and a module drawing more than the peak can never run (the caller takes its hours away)."""
    powered = [k for k in np.flatnonzero(power_kw > 0) if power_kw[k] <= peak + 1e-9]
    if len(powered) > MAX_POWERED_MODULES:
        raise EngineError(
            f"A peak power limit is planned for at most {MAX_POWERED_MODULES} powered modules; this catalog has "
            f"{len(powered)}. Retire modules the mission does not use, or leave the peak limit empty.",
            "peak_kw",
        )
    draws = power_kw[powered]
    fits = []
    for mask in range(1, 1 << len(powered)):
        members = [i for i in range(len(powered)) if mask >> i & 1]
        if draws[members].sum() <= peak + 1e-9:
            fits.append(mask)
    fitting = set(fits)
    maximal = [m for m in fits if not any(m | 1 << i in fitting for i in range(len(powered)) if not m >> i & 1)]
    return [np.array([powered[i] for i in range(len(powered)) if m >> i & 1], dtype=int) for m in maximal]


class PowerRows:
    """The power part of one planning LP: its columns after `offset`, its rows and their bounds."""

    def __init__(self, p, starts: np.ndarray, length: np.ndarray, offset: int):
        self.p, self.pw = p, p.power
        self.starts, self.length, self.offset = starts, length, offset
        R, K = len(p.recipe_keys), len(p.module_keys)
        pw = self.pw
        self.sets = configurations(p.power_kw, pw.peak_kw) if pw.peak_kw is not None else []
        self.powered = np.flatnonzero(p.power_kw > 0) if pw.peak_kw is not None else np.arange(K)
        self.n_split = R if pw.lunar else 0  # batches run in the dark, per recipe
        self.n_sets = len(self.sets)
        self.parts = 2 if pw.lunar else 1  # light (and dark) configuration times
        self.battery = pw.lunar and pw.battery_kwh > 0
        self.per_block = self.n_split + self.n_sets * self.parts + (3 if self.battery else 0)
        self.n_cols = len(starts) * self.per_block
        light = pw.light_h[starts]
        self.light, self.dark = light * length, (24.0 - light) * length  # hours in a block
        self.opening_kwh = pw.battery_kwh  # storage starts full (a rolling window opens where the last one left it)
        self._ub_kinds: list[tuple] = []  # what each row's bound is made of, so a moved window can recompute them
        self._eq_kinds: list[int] = []

    def set_window(self, light_by_day: np.ndarray, opening_kwh: float) -> None:
        """Re-aim at a window of a longer horizon (engine/rolling.py): each of its days' lit hours (a block gets
        its days' sum) and the storage it opens with. `rhs` then gives the new bounds."""
        light = np.add.reduceat(light_by_day, self.starts)
        self.light, self.dark = light, 24.0 * self.length - light
        self.opening_kwh = min(max(opening_kwh, 0.0), self.pw.battery_kwh)

    def rhs(self, energy_per_day: float) -> tuple[np.ndarray, np.ndarray]:
        """(upper bounds of the power rows, right-hand side of its equalities) for the current light and storage."""
        pw = self.pw

        def value(kind: tuple) -> float:
            name, b, part = kind
            if name == "hours":
                return (self.dark[b] if part else self.light[b]) if pw.lunar else 24.0 * self.length[b]
            if name == "light_energy":
                return energy_per_day * self.light[b] / 24.0
            if name == "dark_energy":
                return pw.night_kw * self.dark[b]
            return 0.0

        ub = np.array([value(kind) for kind in self._ub_kinds])
        eq = np.array([self.opening_kwh if b == 0 else 0.0 for b in self._eq_kinds])
        return ub, eq

    def col(self, b: int, local: int) -> int:
        """Column index of a block's local power column."""
        return self.offset + b * self.per_block + local

    def _set_col(self, b: int, s: int, part: int) -> int:
        return self.col(b, self.n_split + part * self.n_sets + s)

    def _battery_col(self, b: int, which: int) -> int:  # 0 charge, 1 discharge, 2 state at the block's end
        return self.col(b, self.n_split + self.parts * self.n_sets + which)

    def col_upper(self) -> np.ndarray:
        """Upper bounds of the power columns: storage state at most its capacity, the rest unbounded."""
        upper = np.full(self.n_cols, np.inf)
        if self.battery:
            for b in range(len(self.starts)):
                upper[self._battery_col(b, 2) - self.offset] = self.pw.battery_kwh
        return upper

    def dark_columns(self) -> np.ndarray:
        """Columns of the batches run in the dark (whole batches make them integer too)."""
        return np.array([self.col(b, r) for b in range(len(self.starts)) for r in range(self.n_split)], dtype=np.int64)

    def rows(self, width: int, energy_per_day: float) -> tuple[coo_matrix, np.ndarray, coo_matrix, np.ndarray]:
        """(A_ub, its upper bounds, A_eq, its right-hand side) for every block."""
        p, pw = self.p, self.pw
        R = len(p.recipe_keys)
        ub, kinds, eq = [], self._ub_kinds, []  # ub/eq: lists of {column: value} rows; kinds: what bounds each
        kinds.clear(), self._eq_kinds.clear()

        def module_terms(b: int, k: int, dark: bool) -> dict[int, float]:
            row: dict[int, float] = {}
            for r in np.flatnonzero(p.recipe_module == k):
                if not dark:
                    row[b * R + r] = p.duration_h[r]
                if pw.lunar:
                    row[self.col(b, r)] = p.duration_h[r] if dark else -p.duration_h[r]
            return row

        for b in range(len(self.starts)):
            for part, dark in enumerate((False, True) if pw.lunar else (False,)):
                for k in self.powered:
                    if not pw.lunar and not self.sets:
                        continue
                    row = module_terms(b, k, dark)
                    for s, members in enumerate(self.sets):
                        if k in members:
                            row[self._set_col(b, s, part)] = -1.0
                    ub.append(row), kinds.append(("zero", b, part) if self.sets else ("hours", b, part))
                if self.sets:
                    ub.append({self._set_col(b, s, part): 1.0 for s in range(self.n_sets)})
                    kinds.append(("hours", b, part))
            if not pw.lunar:
                continue
            for r in range(R):  # the dark share of a recipe's batches is part of them
                ub.append({self.col(b, r): 1.0, b * R + r: -1.0}), kinds.append(("zero", b, 0))
            light_energy = {b * R + r: p.energy_kwh[r] for r in range(R)}
            light_energy |= {self.col(b, r): -p.energy_kwh[r] for r in range(R)}
            dark_energy = {self.col(b, r): p.energy_kwh[r] for r in range(R)}
            if self.battery:
                light_energy[self._battery_col(b, 0)] = 1.0
                dark_energy[self._battery_col(b, 1)] = -1.0
                balance = {
                    self._battery_col(b, 2): 1.0,
                    self._battery_col(b, 0): -pw.efficiency,
                    self._battery_col(b, 1): 1.0,
                }
                if b:
                    balance[self._battery_col(b - 1, 2)] = -1.0
                eq.append(balance), self._eq_kinds.append(b)  # the first block opens at the storage's opening level
            # the allocation is generated only while lit: the daily budget per 24 lit hours
            ub.append(light_energy), kinds.append(("light_energy", b, 0))
            ub.append(dark_energy), kinds.append(("dark_energy", b, 1))
        rhs, eq_rhs = self.rhs(energy_per_day)
        return _matrix(ub, width), rhs, _matrix(eq, width), eq_rhs

    def daily(self, solution: np.ndarray) -> dict[str, np.ndarray]:
        """Per day: batches run in the dark (T, R), configuration hours (T, parts, sets), storage at the day's end."""
        p, T = self.p, self.p.days
        R = len(p.recipe_keys)
        block_of = np.repeat(np.arange(len(self.starts)), self.length.astype(int))
        per_block = solution[self.offset : self.offset + self.n_cols].reshape(len(self.starts), self.per_block)
        per_day = per_block / self.length[:, None]
        dark = np.clip(per_day[:, :R], 0.0, None)[block_of] if self.pw.lunar else np.zeros((T, R))
        sets = per_day[:, self.n_split : self.n_split + self.parts * self.n_sets]
        sets = np.clip(sets, 0.0, None).reshape(len(self.starts), self.parts, self.n_sets)[block_of]
        battery = np.zeros(T)
        if self.battery:
            state = self.opening_kwh
            for t in range(T):  # a block's storage moves by the same amount each of its days
                b = block_of[t]
                state += per_day[b, self.n_split + self.parts * self.n_sets] * self.pw.efficiency
                state -= per_day[b, self.n_split + self.parts * self.n_sets + 1]
                battery[t] = state
        return {"dark": dark, "sets": sets, "battery": battery}


def _matrix(rows: list[dict[int, float]], width: int) -> coo_matrix:
    r = [i for i, row in enumerate(rows) for _ in row]
    c = [col for row in rows for col in row]
    v = [val for row in rows for val in row.values()]
    return coo_matrix((v, (r, c)), shape=(len(rows), width))


def schedule(p, batches: np.ndarray, plan: dict[str, np.ndarray]) -> list[list[tuple[float, float, int]]]:
    """Each day's running intervals (start h, end h, module) laid out from a plan: lit work in the lit part of the
    day and dark work in the dark part, each configuration's time in turn, each module running inside
    configurations that contain it until its hours are done — so what runs at once never exceeds the limit."""
    pw = p.power
    K = len(p.module_keys)
    out = []
    for t in range(p.days):
        hours_total = np.zeros(K)
        np.add.at(hours_total, p.recipe_module, batches[t] * p.duration_h)
        dark_hours = np.zeros(K)
        np.add.at(dark_hours, p.recipe_module, plan["dark"][t] * p.duration_h)
        a, b = lit_interval(t, pw.phase_h) if pw.lunar else (0.0, 24.0)
        dark_start = b if a == 0.0 else 0.0  # a day holds one lit interval; the dark part is the rest
        pieces = [(a, np.maximum(hours_total - dark_hours, 0.0), 0)]
        if pw.lunar:
            pieces.append((dark_start, dark_hours, 1))
        day: list[tuple[float, float, int]] = []
        for start, need, part in pieces:
            need = need.copy()
            clock = start
            sets = plan["sets"][t, part] if plan["sets"].size else []
            for s, members in enumerate(_sets_of(p)):
                length = float(sets[s])
                for k in members:
                    run = min(need[k], length)
                    if run > 1e-9:
                        day.append((clock, clock + run, int(k)))
                        need[k] -= run
                clock += length
            for k in np.flatnonzero(need > 1e-9):  # modules no limit applies to (drawing nothing, or no peak set)
                day.append((start, start + float(need[k]), int(k)))
        out.append(day)
    return out


def _sets_of(p) -> list[np.ndarray]:
    return configurations(p.power_kw, p.power.peak_kw) if p.power.peak_kw is not None else []


def hourly_kw(p, intervals: list[list[tuple[float, float, int]]]) -> np.ndarray:
    """(T, 24) the highest draw at any instant within each clock hour of each day."""
    out = np.zeros((p.days, 24))
    for t, day in enumerate(intervals):
        edges = sorted({0.0, 24.0} | {x for s, e, _ in day for x in (s, e)})
        for lo, hi in zip(edges, edges[1:], strict=False):
            if hi - lo < 1e-9:
                continue
            mid = (lo + hi) / 2
            draw = sum(p.power_kw[k] for s, e, k in day if s <= mid < e)
            for h in range(int(lo), min(int(np.ceil(hi - 1e-9)), 24)):
                out[t, h] = max(out[t, h], draw)
    return out


def report(p, batches: np.ndarray, plan: dict[str, np.ndarray]) -> dict:
    """What a run stores of its power: the profile, per day the lit hours, energy in the light and the dark, storage
    at the day's end and the highest draw at any instant."""
    pw = p.power
    peak_by_day = hourly_kw(p, schedule(p, batches, plan)).max(axis=1)
    energy = batches @ p.energy_kwh
    dark = plan["dark"] @ p.energy_kwh
    return {
        "profile": pw.profile,
        "peak_kw": pw.peak_kw,
        "battery_kwh": pw.battery_kwh,
        "night_kw": pw.night_kw,
        "round_trip": pw.efficiency,
        "light_hours": [round(float(v), 3) for v in pw.light_h],
        "energy_light_kwh": [round(float(v), 4) for v in energy - dark],
        "energy_dark_kwh": [round(float(v), 4) for v in dark],
        "battery_end_kwh": [round(float(v), 4) for v in plan["battery"]],
        "peak_kw_used": [round(float(v), 4) for v in peak_by_day],
    }
