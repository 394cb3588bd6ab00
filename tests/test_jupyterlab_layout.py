"""The live lab in a narrow JupyterLab pane, in a real browser (Playwright + Chromium).

A teacher opened ``notebooks/app.ipynb`` in JupyterLab with the file browser open and found the
plots unreadable. This test does the same: JupyterLab at 1280×800 with its left file browser open
(the default), runs the notebook, and checks that the Train button shows, that each of the three
panels is at least 280 px wide and that nothing sticks out sideways in the notebook panel.
One server, one browser, one page. Every wait is on a real condition: the kernel reports idle, JupyterLab's own
``notebook:run-all-cells`` command (not a menu click) has run every cell, the panels' images have loaded and
their widths have stopped changing.
"""
import time
from pathlib import Path

import pytest
from tests.browser import ARTIFACTS, chromium, jupyterlab_server, wait_for_kernel_idle

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1280, 800
MIN_PANEL = 280
NOTEBOOK = "app.ipynb"

pytestmark = pytest.mark.slow

# The notebook panel JupyterLab opened for NOTEBOOK (JupyterLab's own objects: the page runs with expose_app_in_browser)
PANEL = f"""() => Array.from(window.jupyterapp?.shell.widgets('main') ?? [])
                      .find(w => w.context?.path === '{NOTEBOOK}' && w.sessionContext)"""


@pytest.fixture(scope="module")
def jupyterlab():
    with jupyterlab_server(ROOT / "notebooks") as server:
        yield server.url


def run_all_cells(page, timeout_ms: int) -> None:
    """Run every cell of NOTEBOOK through JupyterLab's command registry (what the Run menu's "Run All Cells" calls)
    once its kernel is idle, and wait until the command says every cell has run."""
    page.wait_for_function(f"() => ({PANEL})()?.sessionContext.session?.kernel?.status === 'idle'",
                           timeout=timeout_ms)
    page.evaluate(f"""() => {{
        const app = window.jupyterapp;
        app.shell.activateById(({PANEL})().id);                  // the command acts on the current notebook
        window.__runAll = 'running';
        app.commands.execute('notebook:run-all-cells').then(
            ok => {{ window.__runAll = ok === false ? 'a cell failed' : 'done'; }},
            err => {{ window.__runAll = 'error: ' + err; }});
    }}""")
    page.wait_for_function("() => window.__runAll !== 'running'", timeout=timeout_ms)
    assert page.evaluate("() => window.__runAll") == "done"


def _settled_widths(imgs, timeout_s: float = 30) -> list[float]:
    """The three panels' widths once two reads 0.25 s apart agree (the flex layout has settled)."""
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        widths = [imgs.nth(i).bounding_box()["width"] for i in range(3)]
        if widths == last:
            return widths
        last = widths
        time.sleep(0.25)
    pytest.fail(f"the panels kept resizing for {timeout_s:.0f} s: {last}")


def test_lab_is_readable_in_a_narrow_jupyterlab_pane(jupyterlab):
    from playwright.sync_api import expect
    with chromium() as browser:
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        page.goto(jupyterlab + f"lab/tree/{NOTEBOOK}", wait_until="domcontentloaded", timeout=120_000)
        notebook = page.locator(".jp-NotebookPanel")
        expect(notebook).to_be_visible(timeout=120_000)
        browser_pane = page.locator(".jp-FileBrowser")
        expect(browser_pane).to_be_visible(timeout=30_000)                  # the default: file browser open
        assert browser_pane.bounding_box()["width"] > 150
        run_all_cells(page, timeout_ms=240_000)
        wait_for_kernel_idle(jupyterlab, NOTEBOOK)                           # the server agrees: nothing left to run
        train = page.get_by_role("button", name="Train")
        train.wait_for(timeout=60_000)
        output = page.locator(".jp-OutputArea-output", has=train)
        imgs = output.locator("img")
        expect(imgs).to_have_count(3, timeout=60_000)
        for i in range(3):                                   # the panels' PNGs have loaded
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=imgs.nth(i).element_handle(),
                                   timeout=60_000)
        widths = _settled_widths(imgs)
        train.scroll_into_view_if_needed()
        expect(train).to_be_visible()
        assert browser_pane.is_visible()                    # still the narrow pane
        panel = notebook.bounding_box()
        rights = [b["x"] + b["width"] for b in (imgs.nth(i).bounding_box() for i in range(3))]
        overflow = page.evaluate("""() => [...document.querySelectorAll(
                '.jp-NotebookPanel .jp-WindowedPanel-outer, .jp-NotebookPanel .jp-Notebook, '
                + '.jp-NotebookPanel .jp-OutputArea-output, .jp-NotebookPanel .jp-Cell-outputWrapper')]
            .filter(e => e.scrollWidth > e.clientWidth + 1)
            .map(e => `${e.className.split(' ')[0]}: ${e.scrollWidth} > ${e.clientWidth}`)""")
        ARTIFACTS.mkdir(exist_ok=True)
        imgs.nth(0).scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-narrow.png"))
        imgs.nth(2).scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-narrow-panels.png"))
        print(layout := f"notebook panel {panel['width']:.0f} px at x={panel['x']:.0f}, panels {widths}")
        assert min(widths) >= MIN_PANEL, layout
        assert max(rights) <= panel["x"] + panel["width"] + 1, layout
        assert not overflow, overflow
