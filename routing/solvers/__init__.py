"""The solver backends, behind one protocol: ``solve(problem, settings) -> solution``.

* :mod:`~routing.solvers.ortools_model` — OR-Tools' routing library; models every constraint
  of a :class:`~routing.problem.TierProblem`. The only module that imports ``ortools``.
* :mod:`~routing.solvers.pyvrp_search` — PyVRP's iterated local search, exact on the problems
  it models and an approximation (a warm start) on the village runs.
* :mod:`~routing.solvers.parallel` — PyVRP's search on several cores.
* :mod:`~routing.solvers.hybrid` — the default: PyVRP searches, OR-Tools checks and polishes.

Every backend takes :class:`SolveSettings` (time or work budget, seed, cores) beside the
problem; none of them reads a budget from the problem.
"""

from routing.solvers.hybrid import solve_hybrid
from routing.solvers.ortools_model import solve_ortools
from routing.solvers.pyvrp_search import solve_pyvrp
from routing.solvers.settings import Solver, SolveSettings

__all__ = [
    "DEFAULT_SOLVER",
    "SolveSettings",
    "Solver",
    "solve_hybrid",
    "solve_ortools",
    "solve_pyvrp",
]

DEFAULT_SOLVER: Solver = solve_hybrid
"""What the daily plan and repairs use unless told otherwise."""
