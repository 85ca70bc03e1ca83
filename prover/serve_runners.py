"""Running prover.serve's SuggestionServer on uvicorn: in the foreground until interrupted, or in a thread."""
from __future__ import annotations

import contextlib
import socket
import threading
import time

from prover.serve import ServeConfig, SuggestionServer


def serve(generator, host: str = "127.0.0.1", port: int = 6000, config: ServeConfig = ServeConfig(),
          log_level: str = "info") -> None:
    """Run the server until interrupted."""
    import uvicorn

    server = SuggestionServer(generator, config)
    try:
        uvicorn.run(server.app, host=host, port=port, log_level=log_level)
    finally:
        server.close()


@contextlib.contextmanager
def serve_in_thread(server: SuggestionServer, host: str = "127.0.0.1", start_timeout: float = 60.0):
    """`server` on uvicorn on a free port of `host`, in a daemon thread (tests, benchmarks, notebooks); yields the
    port, and stops the server and closes it on exit."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(server.app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not uv.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the suggestion server did not start")
            time.sleep(0.02)
        yield port
    finally:
        uv.should_exit = True
        thread.join(30)
        server.close()
