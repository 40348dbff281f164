"""Cold start to ready, time to first token and decode speed of `thinkroute serve` on the bundled model.

Starts the real server as a subprocess (exactly what `make serve` runs) on a free port, polls
/readyz, then streams completions with the official openai client. Cold start is measured twice:
with an empty model cache (GGUF assembly, de-quantisation and tokenizer conversion) and with the
converted cache the first start leaves behind.

    .venv/bin/python benchmarks/serving_baseline.py [--skip-cold]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import openai

REPO = Path(__file__).resolve().parent.parent
PROMPT = [{"role": "user", "content": "Write a short paragraph about the history of the bicycle."}]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(cache_dir: str) -> tuple[subprocess.Popen[bytes], str, float]:
    port = _free_port()
    env = {**os.environ, "THINKROUTE_CACHE_DIR": cache_dir}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "router", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
                if response.status == 200:
                    return process, url, time.monotonic() - started
        except OSError:
            pass
        if process.poll() is not None:
            raise RuntimeError("server exited during startup")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=30)


def _stream_once(client: openai.OpenAI, max_tokens: int) -> tuple[float, float, int]:
    started = time.monotonic()
    first = None
    stream = client.chat.completions.create(
        model="auto", messages=PROMPT, max_tokens=max_tokens, stream=True, stream_options={"include_usage": True},
        temperature=0, extra_body={"stop": []},
    )  # fmt: skip
    tokens = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.monotonic()
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    total = time.monotonic() - started
    return (first or started) - started, total, tokens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-cold", action="store_true", help="only measure with the converted cache")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, float] = {}
    if not args.skip_cold:
        with tempfile.TemporaryDirectory() as empty:
            process, _, seconds = _start(empty)
            _stop(process)
            results["cold_start_empty_cache_s"] = round(seconds, 2)
    default_cache = os.environ.get("THINKROUTE_CACHE_DIR") or str(Path.home() / ".cache" / "thinkroute")
    process, url, seconds = _start(default_cache)
    results["cold_start_cached_s"] = round(seconds, 2)
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="bench")
        _stream_once(client, 8)  # warm-up
        ttfts, speeds = [], []
        for _ in range(args.runs):
            ttft, total, tokens = _stream_once(client, 64)
            ttfts.append(ttft)
            speeds.append(tokens / max(total - ttft, 1e-9))
        results["ttft_p50_ms"] = round(1000 * statistics.median(ttfts), 1)
        results["decode_tokens_per_s"] = round(statistics.median(speeds), 2)
    finally:
        _stop(process)
    for key, value in results.items():
        print(f"{key:<28}{value}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
