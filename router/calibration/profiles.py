"""Profiles files: what ``thinkroute calibrate`` writes and a policy's ``profiles_file`` reads.

A profiles file is YAML with a ``source`` block (the evaluation data's sha256, the date, the
policy and route it was measured on) and a ``profiles:`` list of :class:`ProfileEntry`. A policy
that names it gets its entries merged into ``profiles``; an entry of the file replaces an inline
entry for the same candidate (the measured numbers win over hand-written ones).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from router.errors import PolicyError
from router.planner.candidates import params_key
from router.policy.schema import Policy, ProfileEntry

__all__ = ["data_fingerprint", "merge_profiles_file", "read_profiles_file", "write_profiles_file"]


def data_fingerprint(paths: Iterable[Path]) -> str:
    """sha256 over the bytes of every data file, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        with Path(path).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def write_profiles_file(
    path: Path, profiles: Sequence[ProfileEntry], *, data_sha256: str, extra: Mapping[str, Any] | None = None,
    date: dt.date | None = None,
) -> None:  # fmt: skip
    """Write ``profiles`` with a ``source`` block (data hash, date and any ``extra`` fields)."""
    day = (date or dt.date.today()).isoformat()
    source = {"data_sha256": data_sha256, "date": day, **(extra or {})}
    entries = [p.model_dump(mode="json", exclude_none=True) for p in profiles]
    text = "# Measured by `thinkroute calibrate`; include it from a policy with `profiles_file:`.\n"
    text += yaml.safe_dump({"source": source, "profiles": entries}, sort_keys=False, width=120)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def read_profiles_file(path: Path) -> list[ProfileEntry]:
    """The entries of a profiles file; :class:`PolicyError` naming the file and entry on any problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read profiles file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("profiles"), list):
        raise PolicyError(f"{path}: a profiles file is a mapping with a 'profiles' list")
    entries: list[ProfileEntry] = []
    errors: list[str] = []
    for i, raw in enumerate(data["profiles"]):
        try:
            entries.append(ProfileEntry.model_validate(raw))
        except ValidationError as exc:
            errors += [f"profiles[{i}].{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    if errors:
        raise PolicyError(f"{path}: invalid profiles file\n" + "\n".join(errors), errors)
    return entries


def merge_profiles_file(policy: Policy, path: Path, *, source: str = "<policy>") -> Policy:
    """``policy`` with the file's entries merged into ``profiles`` (file entries replace inline ones)."""
    entries = read_profiles_file(path)
    unknown = [f"{path}: profiles[{i}].strategy: unknown strategy {e.strategy!r}"
               for i, e in enumerate(entries) if e.strategy not in policy.strategies]  # fmt: skip
    if unknown:
        raise PolicyError(f"{source}: invalid policy\n" + "\n".join(unknown), unknown)
    from_file = {f"{e.strategy}{params_key(e.params)}" for e in entries}
    inline = [p for p in policy.profiles if f"{p.strategy}{params_key(p.params)}" not in from_file]
    return policy.model_copy(update={"profiles": [*inline, *entries]})
