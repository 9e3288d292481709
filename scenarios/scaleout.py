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

**A worker process that dies** (killed by the OOM killer, a crash in native code,
``os._exit``) while it runs a task raises from ``map``, as Python's and Ray's pools do —
unless ``map`` is given ``lost``: then that task's result is ``lost(index, WorkerDied(...))``
and every other task is run. :class:`LocalExecutor` cannot tell which of the tasks running at
the time killed the worker, so it runs each of them again alone in a fresh process: one that
dies alone is the culprit (a task that crashes only sometimes then simply succeeds), the
others' results are kept; the rest of the map goes on meanwhile. :class:`RayExecutor` retries a
task whose worker died once (``max_retries=1``, not Ray's default 3), so a task that always
crashes costs two runs on either backend. :class:`SerialExecutor` runs the tasks in the
caller's process, so such a crash ends the caller itself. A task that *raises* is not lost:
its exception propagates from ``map`` as before.

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
import signal
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from types import TracebackType
from typing import IO, Any, Generic, Protocol, TypeVar

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
    "WorkerDied",
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


Lost = Callable[[int, BaseException], R]
"""``lost(index, exc)``: the result of a task whose worker process died (``exc`` is a
:class:`WorkerDied`), instead of raising from ``map``."""


class WorkerDied(CountyrouteError):
    """A task's worker process died before it returned (a signal, a crash in native code,
    an exit): what ``map`` hands to ``lost``. The original error is its ``__cause__``."""


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
        lost: Lost[R] | None = None,
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
    """Everything in this process, in order. ``lost`` is never called: a task that kills its
    worker kills this process."""

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
        lost: Lost[R] | None = None,
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
    rebuilding it per day). At most ``workers`` tasks are handed to the pool at a time, so
    when a worker dies the tasks it may have been running are known: those in hand."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        """A pool of ``workers`` processes (a subclass may give its workers an initializer)."""
        return ProcessPoolExecutor(max_workers=workers)

    def map(
        self,
        fn: Callable[[S, T], R],
        shared: S,
        items: Sequence[T],
        *,
        progress: Progress | None = None,
        each: Each | None = None,
        lost: Lost[R] | None = None,
    ) -> list[R]:
        if not items:
            return []
        token = uuid.uuid4().hex
        blob = pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
        results: list[Any] = [None] * len(items)
        finished = 0

        def finish(k: int, value: Any) -> None:
            nonlocal finished
            results[k] = value
            finished += 1
            if each:
                each(k, value)
            if progress:
                progress(finished, len(items))

        queued = deque(range(len(items)))
        suspects: deque[int] = deque()  # in hand when a worker died: each runs again alone
        running: dict[Future[R], int] = {}

        def settle_broken() -> None:
            """A worker died: the pool is broken, and every task in hand failed with it
            (ProcessPoolExecutor cannot say which one its worker was running)."""
            pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown()  # returns once every task in hand is settled
            for fut, k in running.items():
                if not isinstance(fut.exception(), BrokenProcessPool):
                    finish(k, fut.result())  # it was done before the worker died
                elif lost is None:
                    fut.result()  # raises, as ProcessPoolExecutor does
                else:
                    suspects.append(k)
            running.clear()

        alone: _Alone[R] | None = None
        try:
            while queued or suspects or running or alone:
                if alone is None and suspects:
                    alone = _Alone(self._new_pool(1), suspects.popleft())
                    alone.start(fn, token, blob, items[alone.index])
                # the suspect running alone takes one worker's place
                while queued and len(running) < self.workers - bool(alone or suspects):
                    if self._pool is None:
                        self._pool = self._new_pool(self.workers)
                    k = queued.popleft()
                    try:
                        fut = self._pool.submit(_call_with_shared, fn, token, blob, items[k])
                    except BrokenProcessPool:  # a worker died since the last look
                        queued.appendleft(k)
                        settle_broken()
                        continue
                    running[fut] = k
                wait([*running, *(alone.futures if alone else ())], return_when=FIRST_COMPLETED)
                if alone is not None and alone.done():
                    k, died = alone.index, alone.died()
                    if died is None:
                        finish(k, alone.result())
                    else:
                        assert lost is not None  # only then are there suspects
                        finish(k, lost(k, died))
                    alone = None
                done = [f for f in running if f.done()]
                if not any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                    for fut in done:
                        finish(running.pop(fut), fut.result())
                    continue
                settle_broken()
        finally:
            if alone is not None:
                alone.pool.shutdown(wait=False, cancel_futures=True)
        return results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class _Alone(Generic[R]):
    """One task run again alone in a pool of one process: if that process dies, the task
    killed it, and its exit code says how."""

    def __init__(self, pool: ProcessPoolExecutor, index: int) -> None:
        self.pool = pool
        self.index = index
        self.futures: tuple[Future[R], ...] = ()
        self._processes: list[Any] = []

    def start(self, fn: Callable[[S, T], R], token: str, blob: bytes, item: T) -> None:
        self.futures = (self.pool.submit(_call_with_shared, fn, token, blob, item),)
        # the pool's process, to read its exit code once it is gone (a private attribute of
        # ProcessPoolExecutor: without it the error only lacks the exit code)
        self._processes = list((getattr(self.pool, "_processes", None) or {}).values())

    def done(self) -> bool:
        return self.futures[0].done()

    def died(self) -> WorkerDied | None:
        """The task's worker died (the pool is then shut down): how; else None."""
        exc = self.futures[0].exception()
        if not isinstance(exc, BrokenProcessPool):
            return None
        self.pool.shutdown()
        died = WorkerDied(_death([getattr(p, "exitcode", None) for p in self._processes]))
        died.__cause__ = exc
        return died

    def result(self) -> R:
        try:
            return self.futures[0].result()
        finally:
            self.pool.shutdown()


def _death(exitcodes: Sequence[int | None]) -> str:
    """How a worker process died, from its exit code (negative: the signal that killed it)."""
    code = next((c for c in exitcodes if c), None)
    if code is None:
        return "worker process died"
    if code < 0:
        try:
            return f"worker process died (signal {-code}, {signal.Signals(-code).name})"
        except ValueError:
            return f"worker process died (signal {-code})"
    return f"worker process died (exit code {code})"


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
        lost: Lost[R] | None = None,
    ) -> list[R]:
        if not items:
            return []
        ray = self._ray
        # a task whose worker died is run once more (Ray's default is 3 more): a node lost
        # mid-task costs one retry, and a task that always crashes only two runs
        remote = ray.remote(num_cpus=1, max_retries=1)(_ray_call)
        died = (
            ray.exceptions.WorkerCrashedError,  # killed, crashed, exited (sys.exit too)
            ray.exceptions.OutOfMemoryError,  # killed by Ray's memory monitor
            ray.exceptions.NodeDiedError,
        )
        token = uuid.uuid4().hex
        holder = [ray.put(shared)]  # inside a list, so Ray passes the reference, not the value
        refs = [remote.remote(fn, token, holder, item) for item in items]
        pending = list(refs)
        index = {ref: k for k, ref in enumerate(refs)}
        results: list[Any] = [None] * len(items)
        done = 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                k = index[ref]
                try:
                    results[k] = ray.get(ref)
                except died as exc:
                    if lost is None:
                        raise
                    gone = WorkerDied(f"worker process died (Ray: {type(exc).__name__})")
                    gone.__cause__ = exc
                    results[k] = lost(k, gone)
                done += 1
                if each:
                    each(k, results[k])
                if progress:
                    progress(done, len(items))
        return results

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
