"""The live lab served by Voilà: an HTTP smoke test and a real-browser test (Playwright + Chromium)."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 120) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


@pytest.fixture(scope="module")
def voila_url():
    port = _free_port()
    voila = Path(sys.executable).with_name("voila")
    log = open(ARTIFACTS.mkdir(exist_ok=True) or ARTIFACTS / "voila.log", "w")
    proc = subprocess.Popen([str(voila), str(ROOT / "notebooks" / "app.ipynb"), "--no-browser",
                             f"--port={port}", "--Voila.ip=127.0.0.1", "--Voila.port_retries=0"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"voila exited with {proc.returncode}; see {ARTIFACTS / 'voila.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.terminate()
        pytest.fail("voila did not start listening within 90 s")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_voila_page_answers_200_without_errors(voila_url):
    status, page = _get(voila_url)
    assert status == 200
    assert "Traceback" not in page
    assert "application/vnd.jupyter.stderr" not in page and "output_error" not in page
    assert not any(e in page for e in ("ValueError", "TypeError", "NameError", "ModuleNotFoundError", "ImportError"))
    assert "application/vnd.jupyter.widget-view+json" in page
    assert "pglab live lab" in page


def _chromium_or_skip():
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI; .ci/run installs Debian's chromium")
    pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium to run the browser test)")


def test_live_lab_in_a_real_browser(voila_url):
    executable = _chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--no-first-run", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(voila_url, wait_until="domcontentloaded", timeout=120_000)
        train = page.get_by_role("button", name="Train")
        train.wait_for(timeout=120_000)
        status = page.locator(".widget-label", has_text="press Train")
        expect(status).to_be_visible()
        plot = page.locator("img").first
        first_src = plot.get_attribute("src")

        # move the "steps" slider two notches to the right with the keyboard
        steps = page.locator(".widget-slider", has_text="steps")
        before = steps.locator(".widget-readout").inner_text()
        steps.locator(".noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        expect(steps.locator(".widget-readout")).not_to_have_text(before, timeout=10_000)
        total = int(steps.locator(".widget-readout").inner_text())
        assert total == int(before) + 20

        train.click()
        running = page.locator(".widget-label", has_text=f"/{total}")
        expect(running).to_have_text(_step_pattern(total), timeout=60_000)
        page.wait_for_function("src => document.querySelector('img').src !== src", arg=first_src, timeout=60_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "live-lab-training.png"))

        page.get_by_role("button", name="Stop").click()
        expect(page.locator(".widget-label", has_text="stopped")).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "live-lab-stopped.png"))
        browser.close()
    assert not errors, errors


def _step_pattern(total: int):
    import re
    return re.compile(rf"step [1-9]\d*/{total}")
