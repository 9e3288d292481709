"""Two-echelon CVRP instances solved through the core.

* **Second echelon** (city freighters, the last mile): a multi-depot
  :class:`~routing.problem.TierProblem` — one depot per open satellite, the shared freighter
  fleet stated as a pool (:class:`routing.pools.Pool`: a total and a per-satellite maximum),
  every customer free to be served from any open satellite — searched by PyVRP's
  multi-depot search. When the pool's total is the fewest routes the demand can fill (every
  Set 2 instance), a fixed cost per route makes the search use no more; with few
  satellites, each split of the pool over them is searched too
  (:func:`routing.pools.splits`).
* **First echelon** (trucks, the trunk): exact for these sizes (≤ 4 satellites):
  :func:`best_trunk` tries every multiset of truck routes (each a subset of the loaded
  satellites in its shortest order), keeps those whose routes can carry the loads with split
  deliveries (the supply–demand condition, checked for every subset of satellites), and
  the cheapest one's drops come from a max flow.
* **The tiers together**: the trunk's cost depends on the satellites' loads, so the search
  is repeated with each subset of satellites open, and every new answer is improved by a
  local search whose moves (a customer to another route, at another satellite or not) are
  priced with both echelons (:func:`improve`): loads just over a truck's capacity are what
  cost a trunk trip.
* **The budget is work**: a first look of fixed work at every configuration, then rungs of
  fixed work continuing the best configurations' searches (:func:`rungs`); a larger budget
  runs the same steps and more, so it never returns a worse solution, and the same budget
  gives the same solution on any machine.

Distances inside the tier problem are Euclidean × :data:`SCALE`, rounded per arc (the
solver's integers); every answer is re-priced unrounded by
:func:`benchmarks.formats_2e.evaluate_2e`.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from benchmarks.formats_2e import (
    FreighterRoute,
    TruckRoute,
    TwoEchelonInstance,
    TwoEchelonSolution,
)
from routing.pools import Pool
from routing.problem import TierNode, TierProblem, TierSolution, TierVehicle
from routing.solvers import SolveSettings, solve_pyvrp
from routing.solvers.pyvrp_search import initial_routes, pyvrp_from_start

__all__ = [
    "EVALUATIONS_PER_UNIT",
    "LOOK_WORK",
    "RUNG_WORK",
    "SCALE",
    "WALL_CAP",
    "WORK_PER_S",
    "best_trunk",
    "improve",
    "rungs",
    "second_echelon_problem",
    "solve_2e",
]

SCALE = 1000
"""Solver distance units per instance unit (rounding per arc ≤ 0.0005 units)."""

SPLIT_SATELLITES = 2
"""For each set of at most this many open satellites, every split of the pool among them is
searched too."""

WORK_PER_S = 2_400
"""PyVRP iterations per second of budget: a 50-customer configuration runs about 3,000 a
second on one core of the 2-vCPU machine of benchmarks/RESULTS.md, and the two-tier local
search takes the rest."""

LOOK_WORK = 250
"""PyVRP iterations of the first look at each configuration (fixed: the configurations
are ranked the same at any budget)."""

RUNG_WORK = 1_000
"""PyVRP iterations of one rung: one configuration's search again (continued from its best
answer, or restarted: see :func:`solve_2e`)."""

EVALUATIONS_PER_UNIT = 10
"""Solutions the two-tier local search prices per unit of work (one PyVRP iteration): its
time is charged to the budget like the searches'."""

WALL_CAP = 3.0
"""The safety net: past this many times the budget no further rung or local search starts."""

_NO_CLOCK = 1e9
"""The searches' time limit: work stops them, the rungs' deadline is the safety net."""

_Config = tuple[tuple[int, ...], tuple[int, ...] | None]
"""Open satellites, and the pool's split among them (``None``: each up to its maximum)."""

_OPEN = 10**9
_CLASS = "freighter"


def _d(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def second_echelon_problem(
    inst: TwoEchelonInstance,
    open_satellites: Sequence[int],
    pool: Pool,
    fixed_cost: int = 0,
    counts: Sequence[int] | None = None,
) -> TierProblem:
    """The freighters' multi-depot problem with ``open_satellites`` as depots: per satellite,
    as many freighters as the pool lets it have (or ``counts[k]`` at the k-th open
    satellite: a split of the pool); cost = distance × :data:`SCALE` (+ ``fixed_cost`` per
    route)."""
    sats = [f"s{s}" for s in open_satellites]
    sites = (*sats, *(f"c{c}" for c in range(len(inst.customers))))
    pts = [inst.satellites[s] for s in open_satellites] + list(inst.customers)
    xy = np.array(pts, dtype=float)
    diff = xy[:, None, :] - xy[None, :, :]
    dist = np.rint(np.hypot(diff[..., 0], diff[..., 1]) * SCALE).astype(np.int64)
    dist.setflags(write=False)
    zero = np.zeros_like(dist)
    zero.setflags(write=False)
    cap = (inst.freighter_capacity, _OPEN, _OPEN)
    vehicles = tuple(
        TierVehicle(
            id=f"f{s}.{k}",
            vehicle_class=_CLASS,
            depot=f"s{s}",
            capacity=cap,
            fixed_cost=fixed_cost,
            cost_per_m=1.0,
            cost_per_s=0.0,
            earliest_start_s=0,
            latest_end_s=_OPEN,
            max_duration_s=_OPEN,
        )
        for j, s in enumerate(open_satellites)
        for k in range(pool.at_most(f"s{s}") if counts is None else counts[j])
    )
    nodes = tuple(
        TierNode(
            key=f"c{c}",
            site=f"c{c}",
            delivery=(d, 0, 0),
            pickup=(0, 0, 0),
            service_s=0,
            window=(0, _OPEN),
        )
        for c, d in enumerate(inst.demand)
    )
    return TierProblem(
        name=f"{inst.name}-2nd-{'-'.join(map(str, open_satellites))}",
        sites=sites,
        nodes=nodes,
        vehicles=vehicles,
        distance_m={_CLASS: dist},
        time_s={_CLASS: zero},
    )


def _freighter_routes(problem: TierProblem, sol: TierSolution) -> list[FreighterRoute]:
    out = []
    for p, trips in enumerate(sol.routes):
        sat = int(problem.vehicles[p].depot[1:])
        for _, visits, _ in trips:
            if visits:
                out.append(FreighterRoute(sat, tuple(v.node for v in visits)))
    return out


# --- the first echelon, exact -------------------------------------------------------------
def _max_flow_drops(
    routes: Sequence[tuple[int, ...]], loads: dict[int, int], cap: int
) -> list[list[tuple[int, int]]] | None:
    """Split each satellite's load over the routes visiting it, each route carrying at most
    ``cap``: a max flow (source → route → satellite → sink, augmenting shortest paths) on
    the tiny route–satellite graph; ``None`` when the loads cannot all be carried."""
    sats = sorted(loads)
    n_r = len(routes)
    size = 2 + n_r + len(sats)
    src, sink = 0, size - 1
    room = [[0] * size for _ in range(size)]
    for i, r in enumerate(routes):
        room[src][1 + i] = cap
        for s in r:
            room[1 + i][1 + n_r + sats.index(s)] = cap
    for k, s in enumerate(sats):
        room[1 + n_r + k][sink] = loads[s]
    flow = [[0] * size for _ in range(size)]
    while True:
        parent = [-1] * size
        parent[src] = src
        queue = [src]
        while queue and parent[sink] < 0:
            u = queue.pop(0)
            for v in range(size):
                if parent[v] < 0 and room[u][v] - flow[u][v] > 0:
                    parent[v] = u
                    queue.append(v)
        if parent[sink] < 0:
            break
        push, v = math.inf, sink
        while v != src:
            push = min(push, room[parent[v]][v] - flow[parent[v]][v])
            v = parent[v]
        v = sink
        while v != src:
            flow[parent[v]][v] += int(push)
            flow[v][parent[v]] -= int(push)
            v = parent[v]
    if sum(flow[1 + n_r + k][sink] for k in range(len(sats))) < sum(loads.values()):
        return None
    return [[(s, flow[1 + i][1 + n_r + sats.index(s)]) for s in r] for i, r in enumerate(routes)]


def best_trunk(inst: TwoEchelonInstance, loads: Sequence[int]) -> tuple[float, list[TruckRoute]]:
    """The cheapest first echelon carrying ``loads`` (per satellite), split deliveries
    allowed; ``(inf, [])`` when the trucks cannot carry them."""
    return _best_trunk(inst, tuple(loads))


@lru_cache(maxsize=100_000)
def _best_trunk(inst: TwoEchelonInstance, loads: tuple[int, ...]) -> tuple[float, list[TruckRoute]]:
    used = [s for s, q in enumerate(loads) if q > 0]
    if not used:
        return 0.0, []
    cap = inst.truck_capacity
    tours: list[tuple[float, tuple[int, ...]]] = []
    for k in range(1, len(used) + 1):
        for sub in itertools.combinations(used, k):
            best = min(
                (
                    _d(inst.depot, inst.satellites[o[0]])
                    + sum(
                        _d(inst.satellites[o[i]], inst.satellites[o[i + 1]]) for i in range(k - 1)
                    )
                    + _d(inst.satellites[o[-1]], inst.depot),
                    o,
                )
                for o in itertools.permutations(sub)
            )
            tours.append(best)
    subsets = [
        frozenset(q) for k in range(1, len(used) + 1) for q in itertools.combinations(used, k)
    ]
    best_cost, best_pick = math.inf, None
    least = math.ceil(sum(loads) / cap)
    for n in range(least, inst.trucks + 1):
        for pick in itertools.combinations_with_replacement(range(len(tours)), n):
            cost = sum(tours[i][0] for i in pick)
            if cost >= best_cost:
                continue
            ok = all(
                sum(loads[s] for s in q) <= cap * sum(1 for i in pick if q & set(tours[i][1]))
                for q in subsets
            )
            if ok:
                best_cost, best_pick = cost, pick
    if best_pick is None:
        return math.inf, []
    routes = [tours[i][1] for i in best_pick]
    drops = _max_flow_drops(routes, {s: loads[s] for s in used}, cap)
    if drops is None:  # cannot happen when the supply–demand condition holds
        return math.inf, []
    return best_cost, [TruckRoute(tuple((s, a) for s, a in d if a > 0)) for d in drops]


# --- both tiers ----------------------------------------------------------------------------
@dataclass
class _State:
    inst: TwoEchelonInstance
    routes: list[FreighterRoute]

    def loads(self) -> list[int]:
        out = [0] * len(self.inst.satellites)
        for r in self.routes:
            out[r.satellite] += sum(self.inst.demand[c] for c in r.customers)
        return out


def _route_len(inst: TwoEchelonInstance, sat: int, cs: Sequence[int]) -> float:
    if not cs:
        return 0.0
    pts = [inst.satellites[sat], *(inst.customers[c] for c in cs), inst.satellites[sat]]
    return sum(_d(pts[k], pts[k + 1]) for k in range(len(pts) - 1))


def total_cost(inst: TwoEchelonInstance, routes: Sequence[FreighterRoute]) -> float:
    loads = [0] * len(inst.satellites)
    for r in routes:
        loads[r.satellite] += sum(inst.demand[c] for c in r.customers)
    return best_trunk(inst, loads)[0] + sum(
        _route_len(inst, r.satellite, r.customers) for r in routes
    )


def improve(
    inst: TwoEchelonInstance, routes: Sequence[FreighterRoute], pool: Pool
) -> tuple[list[FreighterRoute], int]:
    """First-improvement local search priced with both echelons: move a customer to another
    position (any route, any satellite, or a new route where the pool allows), swap two
    customers of two routes, move a whole route to another satellite; 2-opt inside a route.
    Runs to a local optimum; returns it and the number of solutions priced (the search's
    work, :data:`EVALUATIONS_PER_UNIT`)."""
    rs = [[r.satellite, list(r.customers)] for r in routes if r.customers]
    cap = inst.freighter_capacity
    dem = inst.demand
    priced = 0

    def cost_of(rs: list[list]) -> float:  # type: ignore[type-arg]
        nonlocal priced
        priced += 1
        loads = [0] * len(inst.satellites)
        for s, cs in rs:
            loads[s] += sum(dem[c] for c in cs)
        return best_trunk(inst, loads)[0] + sum(_route_len(inst, s, cs) for s, cs in rs)

    current = cost_of(rs)
    improved = True
    while improved:
        improved = False
        # a whole route to another satellite
        for a in range(len(rs)):
            for s in range(len(inst.satellites)):
                if s == rs[a][0]:
                    continue
                at_s = sum(1 for r in rs if r[0] == s)
                if at_s + 1 > pool.at_most(f"s{s}"):
                    continue
                trial = [list(r) for r in rs]
                trial[a] = [s, list(rs[a][1])]
                c = cost_of(trial)
                if c < current - 1e-9:
                    rs, current, improved = trial, c, True
        # relocate a customer
        for a in range(len(rs)):
            for i in range(len(rs[a][1])):
                if i >= len(rs[a][1]):
                    break
                cust = rs[a][1][i]
                targets = list(range(len(rs)))
                new_route_ok = len(rs) < pool.total
                for b in [*targets, *([-1] if new_route_ok else [])]:
                    options: list[tuple[int, int]] = []
                    if b == -1:
                        options = [
                            (s, 0)
                            for s in range(len(inst.satellites))
                            if sum(1 for r in rs if r[0] == s) < pool.at_most(f"s{s}")
                        ]
                    else:
                        if b != a and sum(dem[c] for c in rs[b][1]) + dem[cust] > cap:
                            continue
                        options = [(b, j) for j in range(len(rs[b][1]) + 1)]
                    for tgt, j in options:
                        trial = [[r[0], list(r[1])] for r in rs]
                        trial[a][1].pop(i)
                        if b == -1:
                            trial.append([tgt, [cust]])
                        else:
                            trial[b][1].insert(j if not (b == a and j > i) else j - 1, cust)
                        trial = [r for r in trial if r[1]]
                        c = cost_of(trial)
                        if c < current - 1e-9:
                            rs, current, improved = trial, c, True
                            break
                    if improved:
                        break
                if improved:
                    break
            if improved:
                break
        # swap two customers of two routes (each keeps the other's position)
        if not improved:
            for a in range(len(rs)):
                for b in range(a + 1, len(rs)):
                    load_a = sum(dem[c] for c in rs[a][1])
                    load_b = sum(dem[c] for c in rs[b][1])
                    for i, ca in enumerate(rs[a][1]):
                        for j, cb in enumerate(rs[b][1]):
                            if load_a - dem[ca] + dem[cb] > cap or load_b - dem[cb] + dem[ca] > cap:
                                continue
                            trial = [[r[0], list(r[1])] for r in rs]
                            trial[a][1][i], trial[b][1][j] = cb, ca
                            c = cost_of(trial)
                            if c < current - 1e-9:
                                rs, current, improved = trial, c, True
                                break
                        if improved:
                            break
                    if improved:
                        break
                if improved:
                    break
        # 2-opt inside a route
        for r in rs:
            cs = r[1]
            for i in range(len(cs) - 1):
                for j in range(i + 1, len(cs)):
                    new = cs[:i] + cs[i : j + 1][::-1] + cs[j + 1 :]
                    if _route_len(inst, r[0], new) < _route_len(inst, r[0], cs) - 1e-9:
                        r[1] = cs = new
                        current = cost_of(rs)
                        improved = True
    return [FreighterRoute(s, tuple(cs)) for s, cs in rs], priced


def rungs(configs: int) -> Iterator[tuple[int, int]]:
    """The order of the rungs after the first look at ``configs`` configurations:
    ``(round, rank)``. Round ``r`` (from 1) continues the searches of the ``r + 1``
    configurations ranked cheapest at that moment (all of them when fewer). The order does
    not depend on the budget; the budget only says where it stops.

    >>> list(itertools.islice(rungs(3), 6))
    [(1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (3, 0)]
    """
    r = 1
    while configs > 0:
        for rank in range(min(r + 1, configs)):
            yield r, rank
        r += 1


@dataclass
class _Config2e:
    """One configuration's search: its problem, PyVRP's best answer so far (the next
    rung's start), and that answer's cost with both echelons."""

    config: _Config
    problem: TierProblem
    solution: TierSolution | None = None
    cost: float = math.inf


def solve_2e(
    inst: TwoEchelonInstance,
    budget_s: float,
    *,
    seed: int = 0,
    work_per_s: float = WORK_PER_S,
    wall_cap: float = WALL_CAP,
) -> tuple[TwoEchelonSolution, str]:
    """A solution of ``inst`` for a budget of ``budget_s`` seconds, counted in work
    (``work_per_s`` PyVRP iterations a second: the same instance, seed and budget give the
    same solution on any machine), and a note saying what was searched.

    The search is a sequence of fixed-work steps, none of which depends on the budget:

    1. a **first look** at every configuration (:data:`_Config`): :data:`LOOK_WORK`
       iterations of PyVRP each;
    2. **rungs** (:func:`rungs`): round ``r`` searches again each of the ``r + 1``
       configurations whose best answers are cheapest (both echelons), :data:`RUNG_WORK`
       iterations and seed ``seed + r`` each — in odd rounds from the configuration's best
       answer so far, in even rounds from a new random start (a continued search stays in
       its basin; on Set 2b a restart every other round found the best-known solution of
       two instances that continuing alone left 0.7 % above);
    3. after each step that found new routes, the **two-tier local search**
       (:func:`improve`) from them.

    The best answer of all is returned. A larger budget buys the same steps and more, so
    it never returns a worse solution. The first looks always run in full (a budget
    smaller than they need is overrun), and a step's local search is charged after it ran
    (:data:`EVALUATIONS_PER_UNIT`), so the work spent may pass the budget by one local
    search. The clock is only a safety net: past ``wall_cap``
    times the budget no further rung starts, and the note says so (the answer is then no
    longer repeatable).
    """
    started = time.perf_counter()
    deadline = started + wall_cap * budget_s
    work = round(budget_s * work_per_s)
    pool = Pool(
        "freighters",
        tuple(f"s{s}" for s in range(len(inst.satellites))),
        total=inst.freighters,
        per_station=inst.freighters_per_satellite,
    )
    fewest = math.ceil(inst.total_demand / inst.freighter_capacity)
    # with the pool's total the fewest routes that can carry the demand, a route's fixed cost
    # above any route's length makes the search use no more (and loses nothing)
    tight = fewest >= pool.total
    span = max(
        _d(p, q)
        for p in (*inst.satellites, *inst.customers)
        for q in (*inst.satellites, *inst.customers)
    )
    fixed = round(2 * span * SCALE) if tight else 0
    n_sat = len(inst.satellites)
    # the configurations searched: each subset of satellites open (closing one saves its
    # trunk trips), and with few satellites each split of the pool among them (a split
    # bounds each satellite's load, hence its trunk trips)
    configs: list[_Config] = [
        (sub, None) for k in range(n_sat, 0, -1) for sub in itertools.combinations(range(n_sat), k)
    ]
    for sub in [c[0] for c in configs if 1 < len(c[0]) <= SPLIT_SATELLITES]:
        part = Pool(pool.name, tuple(f"s{s}" for s in sub), pool.total, pool.per_station)
        configs += [(sub, split) for split in part.splits() if min(split) > 0]
    searches = [
        _Config2e(c, second_echelon_problem(inst, c[0], pool, fixed, c[1])) for c in configs
    ]
    best: tuple[float, list[FreighterRoute], str] = (math.inf, [], "")

    def what(c: _Config) -> str:
        sub, split = c
        return f"open {list(sub)}" + ("" if split is None else f" split {list(split)}")

    def step(s: _Config2e, settings: SolveSettings, restart: bool = False) -> int:
        """One search of ``s``, from its best answer so far unless ``restart`` (and the
        local search from its answer when that is the configuration's cheapest yet); the
        work spent."""
        nonlocal best, cut
        assert settings.work is not None
        if s.solution is None or restart:
            sol = solve_pyvrp(s.problem, settings)
        else:
            start = replace(s.problem, initial_routes=initial_routes(s.problem, s.solution))
            sol = pyvrp_from_start(start, settings)[0]
        routes = _freighter_routes(s.problem, sol)
        if not pool.allows([f"s{r.satellite}" for r in routes]):
            return settings.work
        if sorted(c for r in routes for c in r.customers) != list(range(len(inst.customers))):
            return settings.work
        cost = total_cost(inst, routes)
        if cost >= s.cost - 1e-9:
            return settings.work
        s.solution, s.cost = sol, cost
        if cost < best[0] - 1e-9:
            best = (cost, routes, what(s.config))
        if time.perf_counter() > deadline:  # the safety net: no local search
            cut = True
            return settings.work
        better, priced = improve(inst, routes, pool)
        c = total_cost(inst, better)
        if c < best[0] - 1e-9:
            best = (c, better, f"{what(s.config)} + two-tier local search")
        return settings.work + math.ceil(priced / EVALUATIONS_PER_UNIT)

    spent, cut = 0, False
    for s in searches:
        spent += step(s, SolveSettings(time_limit_s=_NO_CLOCK, work=LOOK_WORK, seed=seed))
    done = 0
    cut = cut or time.perf_counter() > deadline
    for r, rank in rungs(len(searches)) if not cut else ():
        if spent + RUNG_WORK > work:
            break
        if time.perf_counter() > deadline:
            cut = True
            break
        ranked = sorted(searches, key=lambda s: s.cost)  # stable: ties keep config order
        settings = SolveSettings(time_limit_s=_NO_CLOCK, work=RUNG_WORK, seed=seed + r)
        spent += step(ranked[rank], settings, restart=r % 2 == 0)
        done += 1
    _, routes, note = best
    if not routes:
        return TwoEchelonSolution((), ()), "no feasible second echelon found"
    note += f"; {len(searches)} first looks, {done} rungs, work {spent:,} of {work:,}"
    if cut:
        note += f" (the clock stopped the search at {wall_cap:g}× the budget)"
    loads = [0] * n_sat
    for r in routes:
        loads[r.satellite] += sum(inst.demand[c] for c in r.customers)
    _, trucks = best_trunk(inst, loads)
    return TwoEchelonSolution(tuple(trucks), tuple(routes)), note
