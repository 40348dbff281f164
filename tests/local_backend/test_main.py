"""``python -m local_backend`` starts the server on the given port with the given model directory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai

from local_backend.__main__ import parse_args, settings_from
from tests.local_backend.tiny import build_tokenizer, tiny_model
from tests.support import free_port

REPO = Path(__file__).resolve().parents[2]


def test_flags_become_server_settings() -> None:
    settings = settings_from(
        parse_args(
            [
                "--model",
                "m.gguf",
                "--device",
                "cuda",
                "--dtype",
                "bfloat16",
                "--max-batch-size",
                "32",
                "--max-queue",
                "5",
                "--served-model-name",
                "a",
                "--served-model-name",
                "b",
            ]
        )
    )
    assert (settings.model, settings.device, settings.dtype) == ("m.gguf", "cuda", "bfloat16")
    assert settings.max_batch_size == 32 and settings.max_queue == 5 and settings.served_model_names == ("a", "b")
    assert settings_from(parse_args([])).model == "bundled"


def test_the_module_serves_a_model_directory(tmp_path: Path) -> None:
    model_dir = tmp_path / "tiny"
    tiny_model().save_pretrained(model_dir)
    build_tokenizer().save_pretrained(model_dir)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "local_backend",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--model",
        str(model_dir),
        "--threads",
        "1",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert process.poll() is None, "the server exited"
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list()] == ["tiny"]
        reply = client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=3, temperature=0
        )
        assert reply.usage is not None and reply.usage.completion_tokens == 3
    finally:
        process.terminate()
        process.wait(timeout=30)
