"""Fixtures for the classroom page: a real `dockertrace serve` on loopback, Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "assets" / "run-echo-hi.jsonl"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A `dockertrace serve` process and where it listens."""

    proc: subprocess.Popen[str]
    url: str
    token: str

    def output(self) -> str:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=20)
        return out


def start_serve(*args: str, token: str = "instructor-token") -> Served:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracer", "serve", "--listen", f"127.0.0.1:{port}", *args]
        + ([] if "--replay" in args else ["--token", token]),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            httpx.get(url + "api/state", timeout=1)
            return Served(proc, url, token)
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"dockertrace serve did not answer on {url}")


def stop(served: Served) -> None:
    if served.proc.poll() is None:
        served.proc.terminate()
        try:
            served.proc.wait(20)
        except subprocess.TimeoutExpired:
            served.proc.kill()
            served.proc.wait()


@pytest.fixture
def replay_server() -> Iterator[Served]:
    served = start_serve("--replay", str(BUNDLED))
    yield served
    stop(served)


def browser_options(user_data: str) -> object:
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-default-apps",
        "--window-size=1280,1000",
        f"--user-data-dir={user_data}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return options


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Chromium driven by Selenium (chromedriver from Debian, nothing downloaded).
    Missing: the test fails under CI=true, else skips (as the live tests do)."""
    need(
        os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER),
        "Chromium is missing: apt-get install chromium chromium-driver",
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    user_data = tempfile.mkdtemp(prefix="dockertrace-chromium-")
    driver = webdriver.Chrome(
        service=Service(CHROMEDRIVER),
        options=browser_options(user_data),  # type: ignore[arg-type]
    )
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(user_data, ignore_errors=True)
