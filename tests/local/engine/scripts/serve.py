"""A stand-in inference container for the engine's hosting tests (stdlib only).

Run as ``serve.py serve``: listens on ``SAGEMAKER_BIND_TO_PORT`` and behaves as ``$SM_MODEL_DIR/model.json``
says: ``answer`` (prefixed to each echoed request body), ``ping`` (the status /ping answers), ``exit``
(exit at once with this code), ``status`` (the status /invocations answers), ``die_after`` (exit after
this many invocations).
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODEL = json.loads((Path(os.environ["SM_MODEL_DIR"]) / "model.json").read_text())
calls = 0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = int(MODEL.get("ping", 200)) if self.path == "/ping" else 404
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        global calls
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        calls += 1
        status = int(MODEL.get("status", 200))
        out = f"{MODEL.get('answer', '')}:{self.headers.get('Content-Type')}:{body.decode()}".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
        if MODEL.get("die_after") and calls >= int(MODEL["die_after"]):
            self.wfile.flush()
            os._exit(3)

    def log_message(self, format: str, *args: object) -> None:
        print(format % args, flush=True)


if __name__ == "__main__":
    if sys.argv[1:] != ["serve"]:
        sys.exit(f"usage: serve.py serve (got {sys.argv[1:]})")
    if MODEL.get("exit") is not None:
        print("model.json asks this container to exit", flush=True)
        sys.exit(int(MODEL["exit"]))
    print(f"serving on {os.environ['SAGEMAKER_BIND_TO_PORT']}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), Handler).serve_forever()
