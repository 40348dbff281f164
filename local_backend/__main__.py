"""``python -m local_backend``: serve a local model over the OpenAI API (see :mod:`local_backend.server`)."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

from local_backend.host import ServerSettings

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_backend", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument("--model", default="bundled",
                        help="'bundled' (Gemma 3 270M), a Hugging Face model directory or a .gguf file")  # fmt: skip
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--max-batch-size", type=int, default=8, help="sequences decoded together")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0, help="how long a batch waits for company")
    parser.add_argument("--max-queue", type=int, default=64, help="requests queued or running before 503")
    parser.add_argument("--default-max-tokens", type=int, default=512, help="max_tokens when a request has none")
    parser.add_argument("--served-model-name", action="append", default=[],
                        help="name listed by /v1/models (repeatable; default: the model's own name)")  # fmt: skip
    parser.add_argument("--log-level", default=os.environ.get("THINKROUTE_LOG_LEVEL", "info"))
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> ServerSettings:
    """The server settings the command line asks for."""
    return ServerSettings(
        model=args.model,
        device=args.device,
        dtype=args.dtype,
        threads=args.threads,
        max_batch_size=args.max_batch_size,
        batch_wait_ms=args.batch_wait_ms,
        max_queue=args.max_queue,
        served_model_names=tuple(args.served_model_name),
        default_max_tokens=args.default_max_tokens,
    )


def main(argv: Sequence[str] | None = None) -> None:
    import uvicorn

    from local_backend.server import create_app

    args = parse_args(argv)
    level = str(args.log_level).upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings_from(args)), host=args.host, port=args.port, log_level=level.lower())


if __name__ == "__main__":
    main()
