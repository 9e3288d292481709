"""What a plan looks like to people: the files a plan folder holds (plan.json, routes.geojson,
manifests, route sheets, summary, map and timeline pictures), in English or Chinese.

It reads a plan and its input and never plans: the solver path (:mod:`routing.day`,
:mod:`routing.solvers`) does not import it, so planning never loads matplotlib. The shells
(the command line, the API) and the planner tools use it.
"""

from routing.present.outputs import PICTURES, mask_phone, summary_text, write_plan_outputs

__all__ = ["PICTURES", "mask_phone", "summary_text", "write_plan_outputs"]
