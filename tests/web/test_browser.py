"""The classroom page in a real browser (headless Chromium): a bundled replay, clicks, no
request leaving 127.0.0.1, and the page's own pure functions."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.web.conftest import BUNDLED, Served
from tracer.record.format import read_recording
from tracer.tui.source import fold_events

RECORDING = read_recording(BUNDLED)
TRACE = fold_events(RECORDING.events, "bcc")
N = len(TRACE.events)  # what the chain folded: the page must show the same


def text_of(driver: Any, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def wait_text(driver: Any, css: str, wanted: str, timeout: float = 20) -> str:
    """Wait (through the driver: the page keeps an EventSource open) for text in an element."""
    WebDriverWait(driver, timeout).until(lambda d: wanted in text_of(d, css))
    return text_of(driver, css)


def where(driver: Any) -> str:
    return text_of(driver, "#where")


def test_the_page_shows_the_bundled_replays_seven_steps_and_chain(
    replay_server: Served, browser: Any
) -> None:
    browser.get(replay_server.url)
    wait_text(browser, "#where", f"event {N} / {N}")
    steps = browser.find_elements(By.CSS_SELECTOR, "#steps li")
    assert len(steps) == 7
    assert [s.get_attribute("class").split()[1] for s in steps] == ["observed"] * 7
    assert "The CLI parses the command" in steps[0].text
    assert "POST /containers/create" in steps[0].text  # the fold's summary, sent by the server
    boxes = browser.find_elements(By.CSS_SELECTOR, "#chain .box")
    assert [b.get_attribute("data-box") for b in boxes] == [
        "cli",
        "socket",
        "dockerd",
        "containerd",
        "shim",
        "runc",
        "kernel",
    ]
    runc = browser.find_element(By.CSS_SELECTOR, '#chain .box[data-box="runc"]')
    assert "pid " in runc.text
    assert "Replaying run-echo-hi.jsonl" in text_of(browser, "#notice")
    arrows = browser.find_elements(By.CSS_SELECTOR, "#sequence .arrow")
    assert len(arrows) > 10
    rows = browser.find_elements(By.CSS_SELECTOR, "#events tr")
    assert len(rows) == N


def test_pause_step_and_jump_work_by_clicks(replay_server: Served, browser: Any) -> None:
    browser.get(replay_server.url)
    wait_text(browser, "#where", f"event {N} / {N}")
    browser.find_element(By.ID, "restart").click()  # replays from the start: playing
    browser.find_element(By.ID, "play").click()  # paused
    paused_at = where(browser)
    assert f"/ {N}" in paused_at
    browser.find_element(By.CSS_SELECTOR, "#jump button:nth-child(5)").click()
    assert "step 5" in where(browser)
    current = browser.find_element(By.CSS_SELECTOR, "#steps li.current")
    assert current.text.startswith("5 runc creates the namespaces")
    before = where(browser)
    browser.find_element(By.ID, "next").click()
    after = where(browser)
    n_before = int(before.split()[1])
    assert int(after.split()[1]) == n_before + 1
    browser.find_element(By.ID, "next-step").click()
    assert "step 6" in where(browser)
    browser.find_element(By.ID, "prev-step").click()
    assert "step 5" in where(browser)
    # paused means paused: the playhead stays where the clicks left it
    stay = where(browser)
    browser.implicitly_wait(0)
    WebDriverWait(browser, 1.5, poll_frequency=0.5).until(lambda d: True)
    assert where(browser) == stay
    # an event's details, by a click on its row
    browser.find_elements(By.CSS_SELECTOR, "#events tr")[0].click()
    assert '"time_ns"' in text_of(browser, "#detail")
    assert where(browser).startswith("event 1 /")


def test_no_request_leaves_127_0_0_1(replay_server: Served, browser: Any) -> None:
    browser.get(replay_server.url)
    wait_text(browser, "#where", f"event {N} / {N}")
    browser.find_element(By.ID, "theme").click()
    browser.find_element(By.ID, "bigger").click()
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    assert any(u.endswith("/api/events") for u in urls), urls
    assert any(u.endswith("/static/page.js") for u in urls), urls
    # the browser's own pages (chrome://new-tab-page, its resources) are not the network
    network = [u for u in urls if urlsplit(u).scheme not in ("chrome", "data", "about")]
    assert {urlsplit(u).scheme for u in network} == {"http"}, network
    assert {urlsplit(u).hostname for u in network} == {"127.0.0.1"}, network


def test_the_pages_functions_move_by_steps(replay_server: Served, browser: Any) -> None:
    """The page's own code (its pure part, window.dockertrace) on the view the server sent."""
    browser.get(replay_server.url)
    wait_text(browser, "#where", f"event {N} / {N}")
    view = browser.execute_script(
        "return fetch('/api/events').then(() => null)"
    )  # the stream is open: a second one works too
    assert view is None
    got = browser.execute_script(
        """
        const v = await new Promise((ok) => {
          const s = new EventSource('/api/events');
          s.addEventListener('view', (m) => { s.close(); ok(JSON.parse(m.data)); });
        });
        const dt = window.dockertrace;
        const starts = [1,2,3,4,5,6,7].map((n) => dt.stepStart(v, n));
        return {starts, last: dt.last(v), next: dt.stepFrom(v, starts[2], 1),
                back: dt.stepFrom(v, starts[2] + 1, -1), before: dt.frame(v, -1).step,
                end: dt.stepFrom(v, dt.last(v), 1)};
        """
    )
    starts = got["starts"]
    assert all(s is not None for s in starts), starts
    assert starts == sorted(starts)
    assert got["next"] == starts[3]
    assert got["back"] == starts[2]
    assert got["before"] == 0
    assert got["end"] == got["last"] == N - 1
