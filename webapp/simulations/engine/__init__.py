"""The planning engine: pure functions from a run's snapshot and config to its results (no I/O)."""

from __future__ import annotations

from collections.abc import Callable

from webapp.simulations.engine.errors import Cancelled, EngineError
from webapp.simulations.engine.generation import MAX_CV
from webapp.simulations.engine.lp import DEFAULT_TAU, PlanningLP
from webapp.simulations.engine.model import Problem, build_problem
from webapp.simulations.engine.montecarlo import run_monte_carlo
from webapp.simulations.engine.policy import run_policy
from webapp.simulations.engine.power import report as power_report
from webapp.simulations.engine.report import build_report

# 1.7: failures at the operating hours each policy runs (one stream per module and scenario); 1.6: spares and
# consumables (logistics mass); 1.5: storage volume (resource densities, volume reduction, products
# in storage); 1.4: blends, malfunctions, resupply and EVA days; 1.3: trade studies and Pareto sweeps; 1.2: power and
# the lunar night; 1.1: strict lexicographic, honest KPIs, replayed mass check
ENGINE_VERSION = "1.8.0"
RUN_TYPES = (
    "mass_balance",
    "throughput_optimization",
    "waste_minimization",
    "monte_carlo",
    "trade_study",
    "pareto_sweep",
)
# run types that study the plan rather than make one: they schedule no products
STUDIES = ("monte_carlo", "trade_study", "pareto_sweep")
MAX_SCENARIOS = 5000
MAX_SPARES = 50  # repairs' worth of spares a Monte Carlo may carry per module

__all__ = [
    "Cancelled",
    "EngineError",
    "ENGINE_VERSION",
    "MAX_SPARES",
    "RUN_TYPES",
    "STUDIES",
    "simulate",
    "Problem",
    "build_problem",
]

Progress = Callable[[float, str | None], None]


def _quiet(fraction: float, message: str | None = None) -> None:
    return None


def planner(problem: Problem, plan: str, tau: float, base: object = None):
    """A function (hours, crew, elastic) -> batches for the chosen policy; scenarios share one warm LP."""
    if plan == "mass_balance":
        return lambda hours=None, crew=None, elastic=False: run_policy(problem, hours, crew)
    lp = PlanningLP(problem) if base is None else None
    scenario_lp: list[PlanningLP] = []  # built by the first scenario that needs it, then warm-started

    def solve(hours=None, crew=None, elastic=False, arrivals=None):
        if hours is None and crew is None:
            return lp.solve(plan, tau=tau, elastic=elastic)
        if not scenario_lp:
            scenario_lp.append(PlanningLP(problem, hours, crew, daily=True))
        if arrivals is not None:  # a scenario whose waste varies day by day (engine/generation.py)
            scenario_lp[0].set_arrivals(arrivals)
        return scenario_lp[0].solve(plan, tau=tau, elastic=elastic, hours=hours, crew=crew)

    return solve


def simulate(snapshot: dict, run_type: str, config: dict, progress: Progress | None = None) -> dict:
    """Run one simulation; raises EngineError naming what to fix, or Cancelled from `progress`."""
    progress = progress or _quiet
    if run_type not in RUN_TYPES:
        raise EngineError(f"Unknown run type {run_type!r}; choose one of {', '.join(RUN_TYPES)}.", "run_type")
    tau = float(config.get("tau", DEFAULT_TAU))
    if not 0 <= tau < 1:
        raise EngineError("tau (the share of the optimum given up for the second objective) must be in [0, 1).", "tau")
    if run_type == "trade_study":  # a bad sweep is named before any planning
        from webapp.simulations.engine.study import validate_study

        validate_study(config, snapshot)
    problem = build_problem(snapshot, config)
    progress(0.05, f"Planning {problem.days} days for {problem.crew} crew, target {problem.target}.")
    for note in problem.notes:
        progress(0.05, note)

    if run_type == "pareto_sweep":
        plan = "throughput_optimization"  # the sweep's first end: the most target
    elif run_type in STUDIES:
        plan = config.get("plan", "throughput_optimization")
    else:
        plan = run_type
    if plan not in ("mass_balance", "throughput_optimization", "waste_minimization"):
        raise EngineError(f"Unknown plan {plan!r} for the scenarios or study points.", "plan")
    if problem.power is not None and plan == "mass_balance":
        raise EngineError(
            "A power profile or peak limit needs an optimising plan: the fixed policy of a mass balance does not "
            "schedule around the night. Choose throughput or waste minimisation.",
            "power_profile",
        )
    integer = None
    if config.get("whole_batches") and run_type not in STUDIES and plan != "mass_balance":
        from webapp.simulations.engine.integer import whole_batches

        progress(0.1, "Planning whole batches (a MILP for short horizons, else the LP rounded and repaired).")
        base, integer, lp = whole_batches(problem, plan, tau)
    elif plan == "mass_balance":
        base, lp = run_policy(problem), None
    else:
        lp = PlanningLP(problem)
        base = lp.solve(plan, tau=tau)
    result = {
        "engine_version": ENGINE_VERSION,
        "run_type": run_type,
        "target": problem.target,
        "notes": problem.notes,
        "start_date": problem.start.isoformat(),
        **build_report(problem, base, problem.hours),
    }
    if integer is not None:
        result["integer"] = integer
    if problem.power is not None:
        result["power"] = power_report(problem, base, lp.power_plan())
    if run_type in ("trade_study", "pareto_sweep"):
        return _study(run_type, snapshot, config, problem, plan, tau, result, progress)
    if run_type != "monte_carlo":
        progress(1.0, "Plan complete.")
        return result
    scenarios = config.get("scenarios", 200)
    seed = config.get("seed", 0)
    if not isinstance(scenarios, int) or not 1 <= scenarios <= MAX_SCENARIOS:
        raise EngineError(f"Scenarios must be a whole number from 1 to {MAX_SCENARIOS}.", "scenarios")
    progress(0.1, f"Failure-free plan done; sampling {scenarios} failure scenarios (seed {seed}).")

    def tick(done: float) -> None:  # every chunk of scenarios (and every poll while chunks are out)
        progress(0.1 + 0.9 * done, None)

    shape = float(config.get("failure_shape", 1.0))
    if not 0.5 <= shape <= 5:
        raise EngineError("The failure shape (Weibull β) must be from 0.5 to 5; 1 is exponential.", "failure_shape")
    policy = config.get("policy") or "perfect_information"
    cv = float(config.get("generation_cv", 0.0))
    if not 0 <= cv <= MAX_CV:
        raise EngineError(f"The variation of daily waste must be from 0 to {MAX_CV:g}.", "generation_cv")
    degraded = float(config.get("degraded_share", 0.0))
    if not 0 <= degraded <= 1:
        raise EngineError("The share of failures that are malfunctions must be from 0 to 1.", "degraded_share")
    spares = config.get("spares_per_module")
    if spares is not None and (
        not isinstance(spares, int) or isinstance(spares, bool) or not 0 <= spares <= MAX_SPARES
    ):
        raise EngineError(f"Spares carried per module are a whole number of repairs from 0 to {MAX_SPARES}.",
                          "spares_per_module")  # fmt: skip
    if spares is not None:
        problem.notes.append(
            f"Each module carries spares for {spares} repair{'s' if spares != 1 else ''}; a module that fails with "
            "none left stays down (or slowed) for the rest of the horizon."
        )
    eva_random = config.get("eva_random", False)
    if not isinstance(eva_random, bool):
        raise EngineError("Whether EVA days fall at random is true or false.", "eva_random")
    if eva_random and problem.eva_schedule:
        problem.notes.append("Each scenario puts the week's EVA days on days of that week drawn at random.")
    result["monte_carlo"] = run_monte_carlo(
        problem,
        plan,
        tau,
        base,
        scenarios,
        int(seed),
        tick,
        shape,
        policy,
        generation_cv=cv,
        degraded_share=degraded,
        eva_random=eva_random,
        spares=spares,
    )
    result["monte_carlo"]["plan"] = plan
    progress(1.0, f"{scenarios} scenarios done ({result['monte_carlo']['replanned']} needed re-planning).")
    return result


def _study(run_type: str, snapshot: dict, config: dict, problem: Problem, plan: str, tau: float, result, progress):
    """A trade study or Pareto sweep beside the mission's own plan (already in `result`)."""

    def tick(done: float) -> None:
        progress(0.1 + 0.9 * done, None)

    if run_type == "trade_study":
        from webapp.simulations.engine.study import run_trade_study

        progress(0.1, "Mission plan done; planning each combination of the study.")
        result["trade_study"] = study = run_trade_study(snapshot, config, plan, tau, tick)
        progress(1.0, f"{len(study['points'])} plans done.")
    else:
        from webapp.simulations.engine.study import run_pareto

        progress(0.1, "Tracing the trade-off.")
        result["pareto"] = sweep = run_pareto(problem, config, tick)
        progress(1.0, f"{len(sweep['points'])} points of the trade-off planned.")
    return result
