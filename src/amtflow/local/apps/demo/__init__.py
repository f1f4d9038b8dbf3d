"""``amtflow demo``: the application's story told in the local twin, with real training, and its report."""

from amtflow.local.apps.demo._story import DEMO_START, DemoOptions, DemoResult, load_examples_data, run_demo
from amtflow.local.apps.demo._timeline import Timeline

__all__ = ["DEMO_START", "DemoOptions", "DemoResult", "Timeline", "load_examples_data", "run_demo"]
