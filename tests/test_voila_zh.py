"""The Chinese live lab (notebooks/zh/app.ipynb, ``make app-zh``) passes the English lab's browser tests.

The scenarios of tests/test_voila.py — the page answers without errors or network, the default race pauses,
resumes and reads out its meter, a collapse is named, the layout at 1024 × 640, hover help on every control, a
closed page stops its worker — run here against the Chinese notebook, served the same way (binder/jupyter), with the
same settings (race lengths; one page shared by the read-only hover-help test and then the default race), and every
text they look for is taken from the Chinese catalogue (:mod:`pglab.lab.messages`), never written out.
"""
import html
import os
import re
import string
import urllib.request

import pytest
from pglab.lab.messages import catalogue
from tests.browser import (ARTIFACTS, LAB_CONTROLS, ROOT, chromium, hover_titles, open_page, voila_server,
                           wait_for_busy_kernels, wait_for_idle_kernels)

NOTEBOOK = ROOT / "notebooks" / "zh" / "app.ipynb"
HEARTBEAT_S = 6
T = catalogue("zh")


def rx(key: str, **fields: str) -> re.Pattern:
    """The catalogue's message ``key`` as a regular expression: its text literally, each field the regex given."""
    marks = {name: f"\x00{i}\x00" for i, name in enumerate(fields)}
    parts = string.Formatter().parse(T.messages[key])           # the fields without their number formats
    text = re.escape("".join(lit + ("" if name is None else marks[name]) for lit, name, _, _ in parts))
    for name, mark in marks.items():
        text = text.replace(re.escape(mark), fields[name])
    return re.compile(text)


def head(key: str) -> str:
    """The text of message ``key`` before its first field."""
    return T.messages[key].split("{", 1)[0]


@pytest.fixture(scope="module")
def voila():
    """Voilà serving the Chinese notebook as `make app-zh` does (tests.browser.voila_server)."""
    with voila_server(NOTEBOOK, heartbeat_s=HEARTBEAT_S) as server:
        yield server


def test_chinese_page_answers_200_without_errors_or_network(voila):
    with urllib.request.urlopen(voila.url, timeout=120) as response:
        status, page = response.status, response.read().decode()
    assert status == 200
    assert "Traceback" not in page
    assert "application/vnd.jupyter.stderr" not in page and "output_error" not in page   # no font warnings either
    assert not any(e in page for e in ("ValueError", "TypeError", "NameError", "ModuleNotFoundError", "ImportError"))
    assert "application/vnd.jupyter.widget-view+json" in page
    assert "pglab 实时实验室" in html.unescape(page)                            # the notebook's title
    assert "cdn.jsdelivr.net" not in page and "fontawesome" not in page


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _open(browser, url, width, height):
    """A fresh page (a kernel of its own) once the lab's Train button (its Chinese name) shows."""
    return open_page(browser, url, width, height, ready=lambda page: page.get_by_role("button", name=T("button.Train")))


@pytest.fixture(scope="module")
def untouched_page(voila, browser):
    """One fresh 1280 × 800 page for the read-only hover-help test and then the default race (which trains), as in
    tests/test_voila.py: one kernel fewer."""
    page = _open(browser, voila.url, 1280, 800)
    yield page
    page.close()


def _type(page, key, value):
    """Type into the text box next to the control ``key`` (its Chinese label) and press Enter."""
    label = page.locator("label", has_text=T(f"label.{key}"))
    box = page.locator(".widget-hbox", has=label).locator("input[type=text]")
    box.fill(value)
    box.press("Enter")


def _verdict(name: str, key: str) -> str:
    return T.name(name) + T("verdict.separator") + head(key)


def test_every_control_has_hover_help_in_the_browser(untouched_page):
    page = untouched_page                                 # read-only: the default race uses it next
    titles = hover_titles(page)
    counts = {sel: len(found) for sel, found in titles}
    assert counts == LAB_CONTROLS, counts
    tips = {v for k, v in T.messages.items() if k.startswith(("tip.", "explain."))}
    for sel, found in titles:
        assert all(t in tips for t in found), (sel, found)     # a sentence of the catalogue, not the control's name
    assert not page.errors, page.errors


def test_default_race_pause_resume_and_readout(untouched_page):
    from playwright.sync_api import expect
    page = untouched_page                                  # fresh, or only read by the hover-help test
    expect(page.get_by_text(T("status.ready"))).to_be_visible()
    _type(page, "steps", "100")
    page.get_by_role("button", name=T("button.Train")).click()
    busy = re.compile(f"{re.escape(T('button.Train'))}|{re.escape(T('button.starting'))}")
    expect(page.locator("button", has_text=busy)).to_be_disabled(timeout=1_500)                     # at once
    expect(page.get_by_text(rx("status.step", step=r"[1-9]\d*", steps="100"))).to_be_visible(timeout=120_000)
    where = rx("readout.where", reference=".*", step="(50|100)", batches=r"\d+", critic=".*")
    expect(page.get_by_text(where)).to_be_visible(timeout=240_000)
    readout = page.locator(".widget-html", has_text=T("readout.head")).inner_text()
    lower_or_higher = os.path.commonprefix([head("verdict.lower"), head("verdict.higher")])     # "方差比原始 REINFORCE "
    for name in ("REINFORCE + baseline", "A2C"):
        assert T.name(name) + T("verdict.separator") + lower_or_higher in readout, readout
    assert head("verdict.higher") not in readout, readout
    page.get_by_role("button", name=T("button.Stop")).click()
    paused = rx("status.paused", step=r"(\d+)", steps="100", why=".*")
    expect(page.get_by_text(paused)).to_be_visible(timeout=60_000)
    at = int(paused.search(page.get_by_text(paused).inner_text()).group(1))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "live-lab-zh-1280x800-paused.png"))
    page.get_by_role("button", name=T("button.Train")).click()
    finished = rx("status.finished", step="100", steps="100", seconds=r"[\d.]+")
    expect(page.get_by_text(finished)).to_be_visible(timeout=240_000)
    page.screenshot(path=str(ARTIFACTS / "live-lab-zh-1280x800.png"))
    assert 0 < at < 100
    assert not page.errors and not page.foreign, (page.errors, page.foreign)


def test_collapse_message_in_the_browser(voila, browser):
    from playwright.sync_api import expect
    page = _open(browser, voila.url, 1280, 800)
    for name in ("REINFORCE (reward-to-go)", "REINFORCE + baseline"):
        page.get_by_role("button", name=T.name(name), exact=True).click()          # untick: a toggle
    _type(page, "lr", "0.1")
    _type(page, "entropy_coef", "0")
    _type(page, "steps", "30")                             # collapsed from step 20 on (seed 0, lr 0.1, no bonus)
    page.get_by_role("button", name=T("button.Train")).click()
    finished = rx("status.finished", step="30", steps="30", seconds=r"[\d.]+")
    expect(page.get_by_text(finished)).to_be_visible(timeout=240_000)
    readout = page.locator(".widget-html", has_text=T("readout.head")).inner_text()
    collapsed = head("verdict.collapsed") in readout or head("verdict.theta_collapsed") in readout
    assert collapsed and head("verdict.lower") not in readout and head("verdict.higher") not in readout, readout
    page.screenshot(path=str(ARTIFACTS / "live-lab-zh-collapse.png"))
    page.close()


def test_layout_at_1024x640_keeps_train_visible(voila, browser):
    from playwright.sync_api import expect
    page = _open(browser, voila.url, 1024, 640)
    box = page.get_by_role("button", name=T("button.Train")).bounding_box()
    assert box is not None and box["y"] + box["height"] <= 640 and box["x"] + box["width"] <= 1024
    imgs = page.locator("img")
    assert imgs.count() == 3
    widths = [imgs.nth(i).bounding_box()["width"] for i in range(3)]
    assert min(widths) >= 280, widths
    assert max(widths) - min(widths) <= 2, widths
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024 + 2   # no sideways scrolling
    page.screenshot(path=str(ARTIFACTS / "live-lab-zh-1024x640.png"), full_page=False)
    select = page.locator("select").first
    top = lambda: select.evaluate("el => el.getBoundingClientRect().top - "    # noqa: E731
                                  "el.closest('.jp-OutputArea-output').getBoundingClientRect().top")
    before = top()
    _type(page, "gamma", "1.5")                            # refused: a message appears above the form
    expect(page.get_by_text(T("error.head"))).to_be_visible(timeout=30_000)
    assert abs(top() - before) < 1                         # ... without pushing the form down
    _type(page, "steps", "20")                             # a short race: the samples table is what is checked
    page.get_by_role("button", name=T("button.Train")).click()
    finished = rx("status.finished", step="20", steps="20", seconds=r"[\d.]+")
    expect(page.get_by_text(finished)).to_be_visible(timeout=240_000)
    row = page.locator("table tr").nth(1).locator("code")   # prompt | target | completion, visibly apart
    boxes = [row.nth(i).bounding_box() for i in range(3)]
    assert all(b2["x"] - (b1["x"] + b1["width"]) >= 8 for b1, b2 in zip(boxes, boxes[1:])), boxes
    page.mouse.wheel(0, 250)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "live-lab-zh-1024x640-race.png"), full_page=False)
    page.close()


def test_closing_the_page_stops_the_worker(voila, browser):
    from playwright.sync_api import expect
    url, proc = voila.url, voila.proc
    page = _open(browser, url, 1280, 800)
    _type(page, "steps", "2000")
    page.get_by_role("button", name=T("button.Train")).click()
    expect(page.get_by_text(rx("status.step", step=r"[1-9]\d*", steps="2000"))).to_be_visible(timeout=120_000)
    busy = wait_for_busy_kernels(proc.pid, cpu_s=1.0)     # a rate, not 1 CPU s in a fixed 4 s (flaky under load)
    page.close()
    wait_for_idle_kernels(proc.pid, busy, timeout=HEARTBEAT_S + 60)   # as tests/test_voila.py
