"""The application as ``sam build`` packages it: its built functions, the import check, the twin's guard.

- :func:`built_functions` reads template.yaml and finds each function's and layer's folder in
  ``.aws-sam/build`` (``make build``).
- :func:`check_imports` imports every handler from there with an interpreter that stands for the Lambda
  runtime (CPython 3.12 with only its boto3/botocore), the layers first on ``sys.path``; ``amtflow local
  check-build`` (``make import-check``) runs it and names each function that fails and the module it lacks.
- :class:`PackagedImports`, :func:`import_guard` and :func:`enforcing` let the twin (``--built``) refuse,
  while a handler runs, the imports Lambda would refuse.
"""

from amtflow.local.packaged._built import BUILD_DIR, BuiltFunction, BuiltLayer, built_functions
from amtflow.local.packaged._check import CheckResult, ImportFailure, check_imports
from amtflow.local.packaged._policy import RUNTIME_PROVIDED, PackagedImports, enforcing, import_guard

__all__ = [
    "BUILD_DIR",
    "RUNTIME_PROVIDED",
    "BuiltFunction",
    "BuiltLayer",
    "CheckResult",
    "ImportFailure",
    "PackagedImports",
    "built_functions",
    "check_imports",
    "enforcing",
    "import_guard",
]
