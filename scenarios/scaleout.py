"""Scale-out: independent tasks in this process, in local worker processes, or on a Ray cluster.

One small interface, :class:`Executor`, with three implementations:

- :class:`SerialExecutor` — in this process (tests, one worker);
- :class:`LocalExecutor` — a pool of local worker processes (the default, ``--workers N``);
- :class:`RayExecutor` — tasks on a Ray cluster (``--ray auto``, ``--ray local`` or
  ``--ray ADDRESS``; the optional ``ray`` extra). Ray is imported only when one is made.

``executor.map(fn, shared, items)`` calls ``fn(shared, item)`` for every item and returns the
results **in the order of the items**, whatever the backend and whatever order tasks finish
in (``each(index, result)``, when given, sees every result as its task finishes);
``shared`` is pickled once and unpickled once per worker process (local), or put once into
the object store and fetched once per Ray worker process, so what it caches (a network's road
index and matrices) serves every task of the map that lands there. ``fn`` must be a
module-level function (it is pickled by reference).

Simulated days (:mod:`scenarios.whatif`), the placement curve's solves
(:mod:`scenarios.placement`) and several counties' days at once (:func:`plan_many`) all run
through it. Given the same inputs, every backend returns the same results when the tasks
themselves are deterministic: the routing search is when it is bounded by a solution count
(:class:`BoundedSolve`), not by the clock.
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from types import TracebackType
from typing import IO, Any, Protocol, TypeVar

from networks import UNREACHABLE, CountyrouteError
from routing import DayInput, plan_day
from routing.plan import Plan
from routing.problem import TierProblem, TierSolution
from routing.solvers import SolveSettings, solve_ortools

__all__ = [
    "BoundedSolve",
    "Executor",
    "LocalExecutor",
    "PlanSettings",
    "Progress",
    "ProgressLine",
    "RayExecutor",
    "SerialExecutor",
    "make_executor",
    "plan_many",
]

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called as tasks finish."""

Each = Callable[[int, Any], None]
"""``each(index, result)``, called in the caller's process as each task finishes (in the
order they finish): batch planning reports and records every county as it is done."""


class Executor(Protocol):
    """Runs ``fn(shared, item)`` for every item; results in the order of the items."""

    name: str
    workers: int

    def map(
        self,
        fn: Callable[[S, T], R],
        shared: S,
        items: Sequence[T],
        *,
        progress: Progress | None = None,
        each: Each | None = None,
    ) -> list[R]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class _Closing:
    def __enter__(self: Any) -> Any:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the backend's resources."""


class SerialExecutor(_Closing):
    """Everything in this process, in order."""

    name = "serial"
    workers = 1

    def map(
        self,
        fn: Callable[[S, T], R],
        shared: S,
        items: Sequence[T],
        *,
        progress: Progress | None = None,
        each: Each | None = None,
    ) -> list[R]:
        out = []
        for k, item in enumerate(items):
            out.append(fn(shared, item))
            if each:
                each(k, out[-1])
            if progress:
                progress(k + 1, len(items))
        return out


_WORKER_SHARED: dict[str, Any] = {}
"""In a worker process: the last ``shared`` object by its token, so consecutive tasks of one
``map`` reuse it — and whatever it caches (a network's road index and matrices) — instead of
unpickling a fresh copy per task."""


def _worker_shared(token: str, load: Callable[[], Any]) -> Any:
    """This worker's copy of the map's shared object, loaded on its first task."""
    if token not in _WORKER_SHARED:
        _WORKER_SHARED.clear()  # one map at a time: keep only the newest
        _WORKER_SHARED[token] = load()
    return _WORKER_SHARED[token]


def _call_with_shared(fn: Callable[[S, T], R], token: str, blob: bytes, item: T) -> R:
    return fn(_worker_shared(token, lambda: pickle.loads(blob)), item)


def _ray_call(fn: Callable[[S, T], R], token: str, holder: list[Any], item: T) -> R:
    """A Ray task: the shared object fetched once per worker process and map (as local)."""
    import ray  # type: ignore[import-not-found,unused-ignore]

    return fn(_worker_shared(token, lambda: ray.get(holder[0])), item)


class LocalExecutor(_Closing):
    """A pool of ``workers`` local processes, started on first use and reused until closed.

    ``shared`` is pickled once per :meth:`map`; each worker unpickles it once and keeps it for
    the map's later tasks (simulated days then share one road index per worker instead of
    rebuilding it per day)."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def map(
        self,
        fn: Callable[[S, T], R],
        shared: S,
        items: Sequence[T],
        *,
        progress: Progress | None = None,
        each: Each | None = None,
    ) -> list[R]:
        if not items:
            return []
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        token = uuid.uuid4().hex
        blob = pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
        futures: dict[Future[R], int] = {
            self._pool.submit(_call_with_shared, fn, token, blob, item): k
            for k, item in enumerate(items)
        }
        results: list[Any] = [None] * len(items)
        for done, fut in enumerate(as_completed(futures), start=1):
            results[futures[fut]] = fut.result()
            if each:
                each(futures[fut], results[futures[fut]])
            if progress:
                progress(done, len(items))
        return results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class RayExecutor(_Closing):
    """Tasks on a Ray cluster.

    ``address``: ``"auto"`` — the cluster in ``RAY_ADDRESS`` or one already running on this
    machine, else a new local instance; ``"local"`` — always a new local instance (with
    ``workers`` CPUs when given); anything else — that cluster (``HOST:6379`` or
    ``ray://HOST:10001``). A Ray session this executor started is shut down by :meth:`close`.

    Raises
    ------
    CountyrouteError
        When Ray is not installed (``pip install 'countyroute[ray]'``) or the cluster cannot
        be reached.
    """

    name = "ray"

    def __init__(self, address: str = "auto", workers: int | None = None) -> None:
        try:
            self._ray: Any = importlib.import_module("ray")
        except ImportError:
            raise CountyrouteError(
                "Ray is not installed: pip install 'countyroute[ray]' (or run without --ray)"
            ) from None
        ray = self._ray
        self._owns = False
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
            }
            target = {"local": "local", "auto": os.environ.get("RAY_ADDRESS") or None}.get(
                address, address
            )
            if target == "local" and workers:
                options["num_cpus"] = workers
            try:
                ray.init(address=target, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise CountyrouteError(f"cannot start or reach Ray at {address!r}: {exc}") from None
            self._owns = True
        self.address = address
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))

    def map(
        self,
        fn: Callable[[S, T], R],
        shared: S,
        items: Sequence[T],
        *,
        progress: Progress | None = None,
        each: Each | None = None,
    ) -> list[R]:
        if not items:
            return []
        ray = self._ray
        remote = ray.remote(num_cpus=1)(_ray_call)
        token = uuid.uuid4().hex
        holder = [ray.put(shared)]  # inside a list, so Ray passes the reference, not the value
        refs = [remote.remote(fn, token, holder, item) for item in items]
        pending = list(refs)
        index = {ref: k for k, ref in enumerate(refs)}
        done = 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            done += len(ready)
            if each:
                for ref in ready:
                    each(index[ref], ray.get(ref))
            if progress:
                progress(done, len(items))
        return list(ray.get(refs))

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns = False


def make_executor(workers: int | None = None, ray: str | None = None) -> Executor:
    """The executor a command line asks for: Ray when ``ray`` is given, else ``workers``
    local processes (serial for one worker; default: every CPU)."""
    if ray:
        return RayExecutor(ray, workers)
    n = workers if workers is not None else os.cpu_count() or 1
    return SerialExecutor() if n <= 1 else LocalExecutor(n)


# ------------------------------------------------------------------------------ progress
class ProgressLine:
    """A one-line progress bar on stderr: ``label [#####.....] 12/60  0:14, ~0:20 left``.

    On a terminal it redraws in place; elsewhere (CI logs) it prints at every 10 %.
    """

    def __init__(self, label: str, stream: IO[str] | None = None, width: int = 24) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.started = time.perf_counter()
        self._last_decile = -1
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int) -> None:
        total = max(total, 1)
        elapsed = time.perf_counter() - self.started
        left = elapsed / done * (total - done) if done else 0.0
        filled = round(self.width * done / total)
        bar = "#" * filled + "." * (self.width - filled)
        text = f"{self.label} [{bar}] {done}/{total}  {_clock(elapsed)}" + (
            f", ~{_clock(left)} left" if 0 < done < total else ""
        )
        if self._tty:
            self.stream.write("\r" + text + ("\n" if done >= total else ""))
            self.stream.flush()
            return
        decile = done * 10 // total
        if decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(text + "\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# ------------------------------------------------------------------------------ planning
@dataclass(frozen=True, slots=True)
class BoundedSolve:
    """The OR-Tools tier solver stopped after ``solutions`` solutions: deterministic, the
    same plan on every machine and backend. The clock (``safety_s`` per tier problem) only
    stops a search that cannot find that many; a problem with at most two stops any vehicle
    can reach takes its first solution, since it may have fewer than ``solutions`` and would
    otherwise wait for the clock (routing.day.plan_day's own ``work`` does)."""

    solutions: int = 10
    safety_s: float = 30.0

    def __call__(self, problem: TierProblem, settings: SolveSettings) -> TierSolution:
        pos = problem.site_index

        def reachable(i: int) -> bool:
            n = problem.nodes[i]
            return any(
                problem.distance_m[v.vehicle_class][pos[v.depot], pos[n.site]] < UNREACHABLE
                for k, v in enumerate(problem.vehicles)
                if n.allowed is None or k in n.allowed
            )

        limit = self.solutions if sum(map(reachable, range(len(problem.nodes)))) > 2 else 1
        return solve_ortools(problem, replace(settings, work=limit, time_limit_s=self.safety_s))


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """How each day is planned: a search budget, or a solution count (deterministic)."""

    time_limit_s: float = 1.0
    """Search budget of the whole day (routing.day.plan_day), when ``solutions`` is None."""
    solutions: int | None = None
    """Stop every tier search after this many solutions (deterministic); None: the clock."""

    def plan(self, day: DayInput) -> Plan:
        """Plan one day in this process (one worker: the days are the parallel tasks)."""
        if self.solutions:
            return plan_day(
                day, time_limit_s=self.time_limit_s, workers=1, solve=BoundedSolve(self.solutions)
            )
        return plan_day(day, time_limit_s=self.time_limit_s, workers=1)


def _plan_task(settings: PlanSettings, day: DayInput) -> Plan:
    return settings.plan(day)


def plan_many(
    days: Sequence[DayInput],
    settings: PlanSettings | None = None,
    *,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> list[Plan]:
    """Plan several days at once — of one county or of several counties (hubs) — on an
    executor; the plans come back in the order of ``days``."""
    run = executor or SerialExecutor()
    return run.map(_plan_task, settings or PlanSettings(), days, progress=progress)
