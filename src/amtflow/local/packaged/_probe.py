"""Import handlers the way Lambda's Python runtime does; run by the runtime's interpreter, stdlib only.

``python -I _probe.py '<json>'`` with ``{"layers": [dir, ...], "functions": [{"name", "code_dir",
"module", "attribute"}, ...]}``: the layers' folders go first on ``sys.path`` (as Lambda puts ``/opt/python``
before its own packages), then each function in turn gets its folder at the front and as the working
directory, its handler module imported and the handler attribute resolved. One JSON line reports each
function's outcome and the interpreter's version. Nothing of the checking side is imported here.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from typing import Any


def _forget(code_dir: str, module: str) -> None:
    """Drop the function's own modules so that the next function imports its own ``app``."""
    prefix = os.path.join(code_dir, "")
    for name, loaded in list(sys.modules.items()):
        where = getattr(loaded, "__file__", None) or ""
        if name == module or name.startswith(module + ".") or where.startswith(prefix):
            del sys.modules[name]


def _probe(function: dict[str, str]) -> dict[str, Any]:
    code_dir, module, attribute = function["code_dir"], function["module"], function["attribute"]
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = function["name"]
    os.environ["LAMBDA_TASK_ROOT"] = code_dir
    os.chdir(code_dir)
    sys.path.insert(0, code_dir)
    try:
        handler = getattr(importlib.import_module(module), attribute, None)
        if not callable(handler):
            return {
                "ok": False,
                "missing": None,
                "message": f"module {module!r} has no callable {attribute!r}",
            }
        return {"ok": True}
    except ModuleNotFoundError as e:
        return {"ok": False, "missing": e.name, "message": str(e), "trace": traceback.format_exc()}
    except BaseException as e:  # an import-time failure of any kind is what the check reports
        message = f"{type(e).__name__}: {e}"
        return {"ok": False, "missing": None, "message": message, "trace": traceback.format_exc()}
    finally:
        sys.path.remove(code_dir)
        _forget(code_dir, module)


def main() -> None:
    spec = json.loads(sys.argv[1])
    sys.path[:0] = spec["layers"]
    outcomes = {f["name"]: _probe(f) for f in spec["functions"]}
    print(json.dumps({"version": list(sys.version_info[:2]), "outcomes": outcomes}))


if __name__ == "__main__":
    main()
