"""A training script that prints its environment as one JSON line (``env={...}``) and exits."""

import json
import os
import pathlib

print("env=" + json.dumps(dict(os.environ), sort_keys=True), flush=True)
(pathlib.Path(os.environ["SM_MODEL_DIR"]) / "model.json").write_text("{}")
