"""Model data for the stand-in serving container (``tests/local/engine/scripts/serve.py``).

The container reads ``model.json`` from its model directory and behaves as it says (its answer, a crash, a
slow start...); a test packs that behaviour as SageMaker model data, a ``model.tar.gz``.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any


def model_archive(**behaviour: Any) -> bytes:
    """A ``model.tar.gz`` holding ``model.json`` = ``behaviour``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = json.dumps(behaviour).encode()
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
