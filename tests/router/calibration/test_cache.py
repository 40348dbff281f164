"""The recording cache replays identical calls, survives interruption, and refuses misses on replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.backends.base import BackendCapabilities, ChatMessage, GenerationRequest, ThinkingBudget
from router.backends.scripted import ScriptedBackend
from router.calibration.cache import (
    CacheMiss,
    OfflineBackend,
    RecordingBackend,
    SampleCache,
    call_clock,
    request_key,
)
from router.errors import ThinkrouteError

REQUEST = GenerationRequest(messages=(ChatMessage("user", "What is 2 + 2?"),), max_tokens=8, seed=7)


def _counting() -> ScriptedBackend:
    return ScriptedBackend(lambda request, index: f"answer {index}")


async def test_a_repeated_request_is_served_from_the_cache(tmp_path: Path) -> None:
    inner = _counting()
    backend = RecordingBackend(inner, SampleCache(tmp_path), "local:bundled")
    first = await backend.generate(REQUEST)
    again = await backend.generate(REQUEST.with_(deadline=123.0))  # the deadline is not part of the key
    assert again.completions[0].text == first.completions[0].text == "answer 0"
    assert len(inner.calls) == 1 and backend.hits == 1 and backend.misses == 1
    other_seed = await backend.generate(REQUEST.with_(seed=8))
    assert other_seed.completions[0].text == "answer 1" and len(inner.calls) == 2


def test_the_key_covers_everything_that_changes_the_output() -> None:
    base = request_key("local:bundled", REQUEST)
    changed = [
        REQUEST.with_(max_tokens=9), REQUEST.with_(temperature=0.5), REQUEST.with_(n=2), REQUEST.with_(seed=None),
        REQUEST.with_(stop=("\n",)), REQUEST.with_(thinking=ThinkingBudget(32)), REQUEST.with_(top_p=0.9),
        REQUEST.with_(messages=(ChatMessage("user", "What is 2 + 3?"),)), REQUEST.with_(assistant_prefix="The"),
    ]  # fmt: skip
    keys = {request_key("local:bundled", r) for r in changed}
    assert base not in keys and len(keys) == len(changed)
    assert request_key("litellm:openai/gpt-4o-mini", REQUEST) != base


async def test_records_persist_and_a_cut_off_line_is_skipped(tmp_path: Path) -> None:
    cache = SampleCache(tmp_path)
    await RecordingBackend(_counting(), cache, "b").generate(REQUEST)
    cache.close()
    with (tmp_path / "samples.jsonl").open("a") as handle:
        handle.write('{"key": "abc", "result": {"mod')  # a run killed mid-write
    reopened = SampleCache(tmp_path)
    assert len(reopened) == 1 and reopened.skipped_lines == 1
    inner = _counting()
    backend = RecordingBackend(inner, reopened, "b")
    assert (await backend.generate(REQUEST)).completions[0].text == "answer 0" and not inner.calls
    await backend.generate(REQUEST.with_(seed=99))  # appends after the broken line, on a line of its own
    reopened.close()
    final = SampleCache(tmp_path)
    assert len(final) == 2 and final.skipped_lines == 1


async def test_replay_never_calls_the_backend_and_misses_are_errors(tmp_path: Path) -> None:
    cache = SampleCache(tmp_path)
    await RecordingBackend(_counting(), cache, "b").generate(REQUEST)
    cache.close()
    offline = OfflineBackend("local", BackendCapabilities(native_n=True))
    replay = RecordingBackend(offline, SampleCache(tmp_path, writable=False), "b", mode="replay")
    assert (await replay.generate(REQUEST)).completions[0].text == "answer 0"
    assert replay.capabilities.native_n
    with pytest.raises(CacheMiss):
        await replay.generate(REQUEST.with_(seed=1))


async def test_replayed_calls_report_the_seconds_they_took_when_recorded(tmp_path: Path) -> None:
    cache = SampleCache(tmp_path)
    backend = RecordingBackend(ScriptedBackend(["slow"], delay_s=0.05), cache, "b")
    with call_clock() as live:
        await backend.generate(REQUEST)
    with call_clock() as replayed:
        await backend.generate(REQUEST)
    assert live.seconds >= 0.05 and live.hits == 0
    assert replayed.seconds == pytest.approx(live.seconds, abs=1e-3) and replayed.hits == 1


async def test_export_writes_a_compressed_snapshot_that_loads_back(tmp_path: Path) -> None:
    cache = SampleCache(tmp_path / "live")
    backend = RecordingBackend(_counting(), cache, "b")
    for seed in range(3):
        await backend.generate(REQUEST.with_(seed=seed))
    keep = {request_key("b", REQUEST.with_(seed=s)) for s in (0, 2)}
    assert cache.export(tmp_path / "snap" / "samples.jsonl.gz", keep) == 2
    cache.close()
    snapshot = SampleCache(tmp_path / "snap", writable=False)
    assert len(snapshot) == 2 and all(k in snapshot for k in keep)


async def test_one_writer_at_a_time(tmp_path: Path) -> None:
    first = SampleCache(tmp_path)
    await RecordingBackend(_counting(), first, "b").generate(REQUEST)
    second = SampleCache(tmp_path)
    with pytest.raises(ThinkrouteError, match="another process"):
        await RecordingBackend(_counting(), second, "b").generate(REQUEST.with_(seed=3))
    first.close()
    second.close()


async def test_streaming_replays_the_recorded_completion(tmp_path: Path) -> None:
    backend = RecordingBackend(_counting(), SampleCache(tmp_path), "b")
    chunks = [c async for c in backend.stream(REQUEST)]
    assert "".join(c.text for c in chunks) == "answer 0" and chunks[-1].usage is not None
    again = [c async for c in backend.stream(REQUEST)]
    assert "".join(c.text for c in again) == "answer 0" and backend.hits == 1
