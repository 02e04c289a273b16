"""A live run started through the API appears on an open page (root, the real daemon, eBPF):
the run's seven steps as the chain folded them, and a failed run's failure with its layer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By

from tests.live.conftest import demo_image, docker_daemon, root  # noqa: F401  (fixtures)
from tests.web.conftest import Served, start_serve, stop
from tests.web.test_browser import text_of, wait_text

pytestmark = pytest.mark.live


@pytest.fixture
def live_server(demo_image: str) -> Any:  # noqa: F811
    served = start_serve()
    yield served
    stop(served)


def run(served: Served, command: str | None = None) -> httpx.Response:
    body = {"command": command} if command else None
    auth = {"Authorization": f"Bearer {served.token}"}
    return httpx.post(served.url + "api/run", headers=auth, json=body, timeout=10)


def test_a_live_run_started_through_the_api_appears_on_an_open_page(
    live_server: Served, browser: Any
) -> None:
    browser.get(live_server.url)
    wait_text(browser, "#mode", "live")
    answer = run(live_server)
    assert answer.status_code == 202, answer.text
    assert run(live_server).status_code == 409  # one at a time
    notice = wait_text(browser, "#notice", "docker exited", timeout=120)
    assert notice.startswith("docker exited 0; printed: hi"), notice
    wait_text(browser, "#where", "step 7", timeout=20)
    steps = browser.find_elements(By.CSS_SELECTOR, "#steps li")
    assert [s.get_attribute("class").split()[1] for s in steps] == ["observed"] * 7
    runc = browser.find_element(By.CSS_SELECTOR, '#chain .box[data-box="runc"]')
    assert "pid " in runc.text
    assert "docker run" in text_of(browser, "#run")


def test_a_failed_run_shows_the_apps_failure_with_its_layer(
    live_server: Served, browser: Any
) -> None:
    browser.get(live_server.url)
    wait_text(browser, "#mode", "live")
    missing = "docker run --rm 127.0.0.1:1/dockertrace/missing echo hi"
    assert run(live_server, missing).status_code == 202
    notice = wait_text(browser, "#notice", "docker exited", timeout=120)
    assert notice.startswith("docker exited 125; printed: Unable to find image"), notice
    failure = wait_text(browser, "#failure", "Failed at step 3", timeout=20)
    assert "(dockerd)" in failure
