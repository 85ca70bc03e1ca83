"""`prover serve`: tactic suggestions for editors over HTTP."""
from __future__ import annotations

import click

from prover.command import UserError
from prover.commands.common import tactic_generator
from prover.commands.options import backend_choice_option, field_option, model_option, model_options
from prover.serve import ServeConfig


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on (loopback: only this machine)")
@click.option("--port", type=click.IntRange(1, 65535), default=6000, show_default=True)
@backend_choice_option("the prompt's backend and the default of /suggest requests (llmstep's and LeanCopilot's: lean)")
@model_option("default | hf:PATH_OR_ID | vllm:PATH_OR_ID | openai:URL")
@model_options("served_name",
               field_option(ServeConfig, "num_candidates", type=click.IntRange(1, 64), help="suggestions per request"),
               "temperature", "max_tokens", "prompt", "dtype", "engine", "threads",
               max_tokens=dict(help="per suggestion"))
@field_option(ServeConfig, "request_timeout", "--timeout", type=click.FloatRange(min=0, min_open=True),
              help="seconds per request")
@field_option(ServeConfig, "tactic_timeout", type=click.FloatRange(min=0, min_open=True),
              help="seconds per tactic when checking suggestions")
@field_option(ServeConfig, "hammer", "--hammer/--no-hammer", envvar="LLEMMA_PROVER_HAMMER",
              help="where no checked suggestion proves the goal, add the backend's hammer's step (Rocq: CoqHammer) "
                   "[env LLEMMA_PROVER_HAMMER=0 turns it off]")
@field_option(ServeConfig, "hammer_timeout", type=click.FloatRange(min=0, min_open=True),
              help="seconds for the hammer within a request")
@field_option(ServeConfig, "max_body_bytes", type=click.IntRange(min=1024))
@field_option(ServeConfig, "max_batch", type=click.IntRange(min=1),
              help="concurrent requests coalesced into one model call")
@click.option("--allow-origin", "allow_origins", multiple=True, metavar="ORIGIN",
              help="a web page origin (e.g. https://my.editor:8443) whose requests are served besides loopback "
                   "pages; repeatable")
@click.option("--files-under", "files_under", multiple=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False, resolve_path=True),
              help="folders whose files POST /prove-hole may prove and write (default: the current folder); repeatable")
def serve(host, port, backend, model, model_settings, num_candidates, request_timeout, tactic_timeout, hammer,
          hammer_timeout, max_body_bytes, max_batch, allow_origins, files_under):
    """Serve tactic suggestions to editors over HTTP (llmstep, LeanCopilot external model, and /suggest)."""
    if model == "none":
        raise UserError("serve needs a model to suggest tactics (--model none has none)")
    import re

    for origin in allow_origins:
        if not re.fullmatch(r"https?://[^/\s]+/?", origin):
            raise UserError(f"--allow-origin {origin!r} is not an origin: give scheme://host[:port]")
    try:
        import uvicorn  # noqa: F401
        import starlette  # noqa: F401
    except ImportError:
        raise UserError("serve needs starlette and uvicorn: pip install starlette uvicorn") from None
    from prover.serve_runners import serve as run_server

    import socket

    try:  # before loading the model: a port in use should not cost a model load to find out
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    generator = tactic_generator(model, backend, model_settings)
    config = ServeConfig(backend=backend, num_candidates=num_candidates, request_timeout=request_timeout,
                         tactic_timeout=tactic_timeout, hammer=hammer, hammer_timeout=hammer_timeout,
                         max_body_bytes=max_body_bytes, max_batch=max_batch,
                         allow_origins=tuple(allow_origins), files_under=tuple(files_under))
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: anyone who can reach it can use the model (no authentication)", err=True)
    click.echo(f"serving {generator.name} for {backend} on http://{host}:{port} "
               f"(llmstep: POST /, LeanCopilot: POST /generate, ours: POST /suggest and /prove-hole)", err=True)
    run_server(generator, host=host, port=port, config=config, log_level="warning")
