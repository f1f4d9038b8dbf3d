"""Applications of the local twin, beside the CLI that runs them.

Each builds on :mod:`amtflow.local.twin` (never the reverse):

- :mod:`amtflow.local.apps.demo`: ``amtflow demo``, the scripted story with real training;
- :mod:`amtflow.local.apps.shell`: ``amtflow local up``'s command loop;
- :mod:`amtflow.local.apps.report`: the demo's report (tuning runs as HTML with plots, and JSON);
- :mod:`amtflow.local.apps.faults`: the fault-injection suite (``bench/faults.py``).
"""
