"""The live lab served by Voilà: an HTTP smoke test and real-browser tests (Playwright + Chromium).

Voilà runs with the repository's serving configuration (binder/jupyter: the offline template and
idle-kernel culling), exactly as ``make app`` starts it, with a short heartbeat timeout so that a
closed page pauses its worker within seconds.
"""
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tests.browser import chromium_or_skip, free_port, wait_until_listening

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
SERVING = ROOT / "binder" / "jupyter"
HEARTBEAT_S = 6


def _get(url: str, timeout: float = 120) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


@pytest.fixture(scope="module")
def voila():
    port = free_port()
    voila = Path(sys.executable).with_name("voila")
    log = open(ARTIFACTS.mkdir(exist_ok=True) or ARTIFACTS / "voila.log", "w")
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(SERVING), "JUPYTER_PATH": str(SERVING),
           "PGLAB_HEARTBEAT_S": str(HEARTBEAT_S)}
    proc = subprocess.Popen([str(voila), str(ROOT / "notebooks" / "app.ipynb"), "--no-browser",
                             f"--port={port}", "--Voila.ip=127.0.0.1", "--Voila.port_retries=0"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}/"
    wait_until_listening(proc, port, 'voila', ARTIFACTS / 'voila.log')
    yield url, proc
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_voila_page_answers_200_without_errors_or_network(voila):
    status, page = _get(voila[0])
    assert status == 200
    assert "Traceback" not in page
    assert "application/vnd.jupyter.stderr" not in page and "output_error" not in page
    assert not any(e in page for e in ("ValueError", "TypeError", "NameError", "ModuleNotFoundError", "ImportError"))
    assert "application/vnd.jupyter.widget-view+json" in page
    assert "pglab live lab" in page
    assert "cdn.jsdelivr.net" not in page and "fontawesome" not in page       # the offline template
    log = (ARTIFACTS / "voila.log").read_text()
    assert "Culling kernels with idle durations > 300 seconds" in log


@pytest.fixture(scope="module")
def browser():
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield b
        b.close()


def _open(browser, url, width, height):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.errors, page.foreign = [], []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
            else page.foreign.append(r.url))
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    page.get_by_role("button", name="Train").wait_for(timeout=120_000)
    return page


def _type(page, label, value):
    """Type into the text box next to the control labelled ``label`` and press Enter."""
    box = page.locator(".widget-hbox", has=page.locator("label", has_text=label)).locator("input[type=text]")
    box.fill(value)
    box.press("Enter")


def _status(page):
    return page.locator(".widget-label", has_text=re.compile(r"step|ready|paused|resuming|starting"))


def test_default_race_pause_resume_and_readout(voila, browser):
    from playwright.sync_api import expect
    page = _open(browser, voila[0], 1280, 800)
    expect(page.get_by_text("ready — press Train")).to_be_visible()
    _type(page, "steps", "100")
    expect(page.locator("input[type=text]").nth(0)).to_be_visible()
    train = page.get_by_role("button", name="Train")
    train.click()
    expect(page.locator("button", has_text=re.compile("Train|starting"))).to_be_disabled(timeout=1_500)   # at once
    expect(page.get_by_text(re.compile(r"step [1-9]\d*/100"))).to_be_visible(timeout=120_000)
    expect(page.get_by_text(re.compile(r"meter at step (50|100)"))).to_be_visible(timeout=240_000)
    readout = page.locator(".widget-html", has_text="At the same policy θ").inner_text()
    assert "REINFORCE + baseline: variance ×" in readout and "A2C: variance ×" in readout, readout
    assert "higher than vanilla REINFORCE" not in readout, readout
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_text(re.compile(r"paused at step \d+/100"))).to_be_visible(timeout=60_000)
    paused = int(re.search(r"paused at step (\d+)", page.get_by_text(re.compile("paused at step")).inner_text()).group(1))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "live-lab-1280x800-paused.png"))
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text(re.compile(r"step 100/100 — finished"))).to_be_visible(timeout=240_000)
    page.screenshot(path=str(ARTIFACTS / "live-lab-1280x800.png"))
    assert 0 < paused < 100
    assert not page.errors and not page.foreign, (page.errors, page.foreign)
    page.close()


def test_collapse_message_in_the_browser(voila, browser):
    from playwright.sync_api import expect
    page = _open(browser, voila[0], 1280, 800)
    for name in ("REINFORCE (reward-to-go)", "REINFORCE + baseline"):
        page.get_by_role("button", name=name, exact=True).click()           # untick: a toggle
    _type(page, "learning rate", "0.1")
    _type(page, "entropy bonus", "0")
    _type(page, "steps", "60")
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text(re.compile(r"step 60/60 — finished"))).to_be_visible(timeout=240_000)
    readout = page.locator(".widget-html", has_text="At the same policy θ").inner_text()
    assert "collapsed" in readout and "lower than" not in readout and "higher than" not in readout, readout
    page.screenshot(path=str(ARTIFACTS / "live-lab-collapse.png"))
    page.close()


def test_layout_at_1024x640_keeps_train_visible(voila, browser):
    page = _open(browser, voila[0], 1024, 640)
    box = page.get_by_role("button", name="Train").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 640 and box["x"] + box["width"] <= 1024
    imgs = page.locator("img")
    assert imgs.count() == 3
    widths = [imgs.nth(i).bounding_box()["width"] for i in range(3)]
    assert min(widths) >= 280, widths                     # each panel wide enough to read
    assert max(widths) - min(widths) <= 2, widths         # a panel alone on the last row is no wider
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024 + 2   # no sideways scrolling
    page.screenshot(path=str(ARTIFACTS / "live-lab-1024x640.png"), full_page=False)
    select = page.locator("select").first
    top = lambda: select.evaluate("el => el.getBoundingClientRect().top - "    # noqa: E731 (from the lab's top:
                                  "el.closest('.jp-OutputArea-output').getBoundingClientRect().top")  # Voilà scrolls)
    before = top()
    _type(page, "γ", "1.5")                                # refused: a message appears above the form
    from playwright.sync_api import expect
    expect(page.get_by_text("Cannot do that:")).to_be_visible(timeout=30_000)
    assert abs(top() - before) < 1                         # ... without pushing the form down
    _type(page, "steps", "50")
    page.get_by_role("button", name="Train").click()
    from playwright.sync_api import expect
    expect(page.get_by_text(re.compile(r"step 50/50 — finished"))).to_be_visible(timeout=240_000)
    row = page.locator("table tr").nth(1).locator("code")   # prompt | target | completion, visibly apart
    boxes = [row.nth(i).bounding_box() for i in range(3)]
    assert all(b2["x"] - (b1["x"] + b1["width"]) >= 8 for b1, b2 in zip(boxes, boxes[1:])), boxes
    page.mouse.wheel(0, 250)                               # the panels and the readout
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "live-lab-1024x640-race.png"), full_page=False)
    page.close()


def test_every_control_has_hover_help_in_the_browser(voila, browser):
    """The title a browser shows on hover reaches the dropdowns, the contender toggles and the slider handles."""
    page = _open(browser, voila[0], 1280, 800)
    titles = page.evaluate("""() => {
        const title = el => { for (; el; el = el.parentElement) if (el.getAttribute('title')) return el.getAttribute('title'); return ''; };
        return ['select', '.widget-toggle-button', '.noUi-handle', 'input[type=text]']
            .map(sel => [sel, Array.from(document.querySelectorAll(sel)).map(title)]);
    }""")
    counts = {sel: len(found) for sel, found in titles}
    assert counts == {"select": 3, ".widget-toggle-button": 8, ".noUi-handle": 7, "input[type=text]": 7}, counts
    for sel, found in titles:
        assert all(len(t) > 20 for t in found), (sel, found)   # a sentence, not the control's own name
    assert not page.errors, page.errors
    page.close()


def _kernel_cpu_seconds(voila_pid: int) -> float:
    """Total user + system CPU seconds of the kernels Voilà started (its child processes)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == voila_pid:                   # ppid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def test_closing_the_page_stops_the_worker(voila, browser):
    from playwright.sync_api import expect
    url, proc = voila
    page = _open(browser, url, 1280, 800)
    _type(page, "steps", "2000")
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text(re.compile(r"step [1-9]\d*/2000"))).to_be_visible(timeout=120_000)
    before = _kernel_cpu_seconds(proc.pid)
    time.sleep(4)
    assert _kernel_cpu_seconds(proc.pid) - before > 1.0      # the worker is busy while the page is open
    page.close()                                           # no beforeunload: only the heartbeat can tell
    time.sleep(HEARTBEAT_S + 8)
    before = _kernel_cpu_seconds(proc.pid)
    time.sleep(4)
    used = _kernel_cpu_seconds(proc.pid) - before
    assert used < 0.8, f"the kernels used {used:.1f} CPU s in 4 s after the page closed"
