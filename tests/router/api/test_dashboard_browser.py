"""The built-in dashboard in headless Chromium: it loads, draws its charts with live data, logs no errors.

Chromium is driven over the Chrome DevTools Protocol; a screenshot is saved in the test's tmp dir.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websocket

from router.api import create_app
from tests.router.telemetry.helpers import chat, policy, scripted
from tests.support import UvicornThread

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--remote-debugging-port=0", "--window-size=1400,1100",
]  # fmt: skip
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket; keeps every event."""

    def __init__(self, url: str) -> None:
        self._ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for: {expression}")

    def close(self) -> None:
        self._ws.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    """Headless Chromium with a fresh profile; the DevTools client of its first page."""
    profile = tmp_path / "profile"
    assert CHROMIUM is not None
    process = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            assert process.poll() is None, "chromium exited during startup"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        client = DevTools(page["webSocketDebuggerUrl"])
        yield client
        client.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _problems(events: list[dict[str, Any]]) -> list[str]:
    found = []
    for event in events:
        params = event.get("params", {})
        if event.get("method") == "Runtime.exceptionThrown":
            found.append(json.dumps(params["exceptionDetails"])[:300])
        elif event.get("method") == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(json.dumps(params.get("args"))[:300])
        elif event.get("method") == "Log.entryAdded" and params["entry"]["level"] == "error":
            found.append(params["entry"].get("text", "")[:300])
    return found


def test_dashboard_renders_live_charts_without_console_errors(browser: DevTools, tmp_path: Path) -> None:
    app = create_app(policy(), backend_factories={"local": scripted()})
    with UvicornThread(app) as server, httpx.Client(base_url=server.base_url, timeout=30) as client:
        for body in (chat(), chat(), chat("vote"), chat("nope")):
            client.post("/v1/chat/completions", json=body)
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable")
        browser.call("Emulation.setDeviceMetricsOverride", width=1400, height=1100, deviceScaleFactor=1, mobile=False)
        browser.call("Page.navigate", url=f"{server.base_url}/dashboard")
        browser.wait_for("window.__thinkroute && window.__thinkroute.renders >= 1")
        points = browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('canvas')].map(c => [c.id, +(c.dataset.points||0)]))"
        )
        assert points["chart-mix"] == 2 and points["chart-spend"] == 1
        assert points["chart-latency"] == 3 and points["chart-tokens"] == 3 and points["chart-stops"] == 2
        assert points["chart-buckets"] == 1  # every prompt is "medium" with the classifier off
        assert browser.evaluate("document.getElementById('kpi-requests').textContent") == "4"
        assert browser.evaluate("document.querySelectorAll('#recent tbody tr.row').length") == 4
        assert browser.evaluate("document.querySelectorAll('#recent tbody tr.error').length") == 1
        painted = "(() => { const c = document.getElementById('chart-mix'); const d = c.getContext('2d')" \
                  ".getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4)" \
                  " n += d[i] > 0; return n; })()"  # fmt: skip
        assert browser.evaluate(painted) > 1000  # the donut was actually drawn

        browser.evaluate("document.querySelector('#recent tbody tr.row:not(.error)').click()")
        explanation = browser.wait_for("(document.querySelector('#recent tr.explain') || {}).textContent")
        assert "rule: cheapest_meeting_quality" in explanation and "pred. quality" in explanation

        client.post("/v1/chat/completions", json=chat("vote"))  # the page follows live traffic
        browser.wait_for("document.getElementById('kpi-requests').textContent === '5'", timeout_s=10)
        shot = browser.call("Page.captureScreenshot", format="png")["data"]
        (tmp_path / "dashboard.png").write_bytes(__import__("base64").b64decode(shot))

    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    assert _problems(browser.events) == []
    urls = {e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"}
    assert urls and all(u.startswith(server.base_url) or u.startswith("data:") for u in urls), urls
