"""The live lab in a narrow JupyterLab pane, in a real browser (Playwright + Chromium).

A teacher opened ``notebooks/app.ipynb`` in JupyterLab with the file browser open and found the
plots unreadable. This test does the same: JupyterLab at 1280×800 with its left file browser open
(the default), runs the notebook, and checks that the Train button shows, that each of the three
panels is at least 280 px wide and that nothing sticks out sideways in the notebook panel.
One server, one browser, one page.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from tests.browser import CHROMIUM, chromium_or_skip, free_port, wait_until_listening

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
WIDTH, HEIGHT = 1280, 800
MIN_PANEL = 280

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def jupyterlab():
    chromium_or_skip()
    jupyter = Path(sys.executable).with_name("jupyter")
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "jupyterlab.log", "w")
    home = Path(tempfile.mkdtemp(prefix="pglab-jlab-"))       # fresh workspace and settings: the default layout
    for plugin, values in {"docmanager-extension/plugin": {"autosave": False},    # never write app.ipynb
                           "apputils-extension/notification": {"fetchNews": "false"}}.items():
        settings = home / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps(values))
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    cmd = [str(jupyter), "lab", "--no-browser", "--ServerApp.token=", "--ServerApp.password=",
           "--ServerApp.ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
           f"--ServerApp.root_dir={ROOT / 'notebooks'}",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    wait_until_listening(proc, port, 'jupyter lab', ARTIFACTS / 'jupyterlab.log')
    yield f"http://127.0.0.1:{port}/"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    shutil.rmtree(home, ignore_errors=True)


def test_lab_is_readable_in_a_narrow_jupyterlab_pane(jupyterlab):
    from playwright.sync_api import expect, sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--no-first-run", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.goto(jupyterlab + "lab/tree/app.ipynb", wait_until="domcontentloaded", timeout=120_000)
            notebook = page.locator(".jp-NotebookPanel")
            expect(notebook).to_be_visible(timeout=120_000)
            browser_pane = page.locator(".jp-FileBrowser")
            expect(browser_pane).to_be_visible(timeout=30_000)                  # the default: file browser open
            assert browser_pane.bounding_box()["width"] > 150
            expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=60_000)
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator(".lm-Menu-item:visible", has=page.locator(".lm-Menu-itemLabel",
                                                                    has_text="Run All Cells")).first.click()
            train = page.get_by_role("button", name="Train")
            train.wait_for(timeout=180_000)
            output = page.locator(".jp-OutputArea-output", has=train)
            imgs = output.locator("img")
            expect(imgs).to_have_count(3, timeout=60_000)
            for i in range(3):                                   # the panels' PNGs have loaded
                page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=imgs.nth(i).element_handle(),
                                       timeout=60_000)
            page.wait_for_timeout(500)                          # let the flex layout settle
            train.scroll_into_view_if_needed()
            expect(train).to_be_visible()
            assert browser_pane.is_visible()                    # still the narrow pane
            panel = notebook.bounding_box()
            widths = [imgs.nth(i).bounding_box()["width"] for i in range(3)]
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
        finally:
            browser.close()
