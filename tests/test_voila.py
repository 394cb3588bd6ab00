"""The live lab served by Voilà: an HTTP smoke test and real-browser tests (Playwright + Chromium).

Voilà runs with the repository's serving configuration (binder/jupyter: the offline template and
idle-kernel culling), exactly as ``make app`` starts it, with a short heartbeat timeout so that a
closed page pauses its worker within seconds. One server and one Chromium serve every test here; each page is
a fresh kernel, except that the read-only hover-help test and the default race share one (the race runs last on it).
Waits are on real conditions (a text shown, a kernel's CPU use), with generous limits for a loaded machine.
"""
import re
import urllib.request

import pytest
from tests.browser import (ARTIFACTS, LAB_CONTROLS, ROOT, chromium, hover_titles, open_page, voila_server,
                           wait_for_busy_kernels, wait_for_idle_kernels)

APP = ROOT / "notebooks" / "app.ipynb"
HEARTBEAT_S = 6


def _get(url: str, timeout: float = 120) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


@pytest.fixture(scope="module")
def voila():
    """Voilà serving the live lab as `make app` does (tests.browser.voila_server), for every test in this file."""
    with voila_server(APP, heartbeat_s=HEARTBEAT_S) as server:
        yield server


def test_voila_page_answers_200_without_errors_or_network(voila):
    status, page = _get(voila.url)
    assert status == 200
    assert "Traceback" not in page
    assert "application/vnd.jupyter.stderr" not in page and "output_error" not in page
    assert not any(e in page for e in ("ValueError", "TypeError", "NameError", "ModuleNotFoundError", "ImportError"))
    assert "application/vnd.jupyter.widget-view+json" in page
    assert "pglab live lab" in page
    assert "cdn.jsdelivr.net" not in page and "fontawesome" not in page       # the offline template
    assert "Culling kernels with idle durations > 300 seconds" in voila.log_text()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _open(browser, url, width, height):
    """A fresh page (a kernel of its own) once the lab's Train button shows."""
    return open_page(browser, url, width, height, ready=lambda page: page.get_by_role("button", name="Train"))


@pytest.fixture(scope="module")
def untouched_page(voila, browser):
    """One fresh 1280 × 800 page for the read-only hover-help test and then the default race (which trains)."""
    page = _open(browser, voila.url, 1280, 800)
    yield page
    page.close()


def _type(page, label, value):
    """Type into the text box next to the control labelled ``label`` and press Enter."""
    box = page.locator(".widget-hbox", has=page.locator("label", has_text=label)).locator("input[type=text]")
    box.fill(value)
    box.press("Enter")


def _status(page):
    return page.locator(".widget-label", has_text=re.compile(r"step|ready|paused|resuming|starting"))


def test_every_control_has_hover_help_in_the_browser(untouched_page):
    """The title a browser shows on hover reaches the dropdowns, the contender toggles and the slider handles."""
    page = untouched_page                                 # read-only: the default race may use it after
    titles = hover_titles(page)
    counts = {sel: len(found) for sel, found in titles}
    assert counts == LAB_CONTROLS, counts
    for sel, found in titles:
        assert all(len(t) > 20 for t in found), (sel, found)   # a sentence, not the control's own name
    assert not page.errors, page.errors


def test_default_race_pause_resume_and_readout(untouched_page):
    from playwright.sync_api import expect
    page = untouched_page                                  # fresh, or only read by the hover-help test
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


def test_collapse_message_in_the_browser(voila, browser):
    from playwright.sync_api import expect
    page = _open(browser, voila.url, 1280, 800)
    for name in ("REINFORCE (reward-to-go)", "REINFORCE + baseline"):
        page.get_by_role("button", name=name, exact=True).click()           # untick: a toggle
    _type(page, "learning rate", "0.1")
    _type(page, "entropy bonus", "0")
    _type(page, "steps", "30")                             # collapsed from step 20 on (seed 0, lr 0.1, no bonus)
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text(re.compile(r"step 30/30 — finished"))).to_be_visible(timeout=240_000)
    readout = page.locator(".widget-html", has_text="At the same policy θ").inner_text()
    assert "collapsed" in readout and "lower than" not in readout and "higher than" not in readout, readout
    page.screenshot(path=str(ARTIFACTS / "live-lab-collapse.png"))
    page.close()


def test_layout_at_1024x640_keeps_train_visible(voila, browser):
    page = _open(browser, voila.url, 1024, 640)
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
    _type(page, "steps", "20")                             # a short race: the samples table is what is checked
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text(re.compile(r"step 20/20 — finished"))).to_be_visible(timeout=240_000)
    row = page.locator("table tr").nth(1).locator("code")   # prompt | target | completion, visibly apart
    boxes = [row.nth(i).bounding_box() for i in range(3)]
    assert all(b2["x"] - (b1["x"] + b1["width"]) >= 8 for b1, b2 in zip(boxes, boxes[1:])), boxes
    page.mouse.wheel(0, 250)                               # the panels and the readout
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "live-lab-1024x640-race.png"), full_page=False)
    page.close()


def test_closing_the_page_stops_the_worker(voila, browser):
    from playwright.sync_api import expect
    page = _open(browser, voila.url, 1280, 800)
    _type(page, "steps", "2000")
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text(re.compile(r"step [1-9]\d*/2000"))).to_be_visible(timeout=120_000)
    busy = wait_for_busy_kernels(voila.proc.pid, cpu_s=1.0)  # the worker computes while the page is open ...
    page.close()                                           # no beforeunload: only the heartbeat can tell
    # ... and stops within a minute of the page closing (the heartbeat times out after HEARTBEAT_S); the race's
    # 2,000 steps would take several minutes, so an idle kernel here is a paused worker, not a finished race
    wait_for_idle_kernels(voila.proc.pid, busy, timeout=HEARTBEAT_S + 60)
