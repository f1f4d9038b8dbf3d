"""Write the transformed template (what CloudFormation deploys) as JSON, for the IaC scanner.

``make security`` scans both ``template.yaml`` (the SAM resources as written) and this rendering, where the
IAM roles, queues and rules that SAM generates are visible. Usage: ``python render_template.py OUT.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from security_support import cloudformation


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: render_template.py OUT.json", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(cloudformation(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
