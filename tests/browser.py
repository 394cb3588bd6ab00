"""Shared pieces of the real-browser tests (Voilà and JupyterLab): Chromium, ports, servers, pages.

Several of these tests may run at once (``make test`` runs the suite on pytest-xdist workers), so nothing here is
shared between two of them: every server binds 127.0.0.1 on a port of its own (a fresh one is tried if another
process took it first), writes a log of its own (``test-artifacts/<name>-<pid>.log`` while it runs, renamed to
``test-artifacts/<name>.log`` when it stops: two test sessions never write one file), and every Chromium gets a
temporary profile of its own (Playwright's default). Waits are on real conditions — a server that says it is
running *and* accepts connections, a button that exists, a kernel that reports ``idle``, kernels' CPU use — never
on a fixed sleep.

Reuse, e.g. for another notebook of the live lab::

    with voila_server(ROOT / "notebooks" / "app.ipynb") as server, chromium() as browser:
        page = open_page(browser, server.url, 1280, 800, ready=lambda p: p.get_by_role("button", name="Train"))
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
SERVING = ROOT / "binder" / "jupyter"                    # what `make app` serves with: offline template, culling
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
PORT_IN_USE = re.compile(r"already in use|Address in use|EADDRINUSE", re.I)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (servers in tests bind the loopback only)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium_or_skip() -> str:
    """Debian's Chromium, or skip the test — except in CI, where .ci/run installs it and its absence is a failure."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI; .ci/run installs Debian's chromium")
    pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium to run the browser test)")


def wait_until_listening(proc, port: int, name: str, log_path, timeout: float = 90) -> None:
    """Block until ``proc`` (a server started by a browser test) accepts connections on 127.0.0.1:``port``;
    fail the test with a pointer to its log if it exits or stays silent for ``timeout`` seconds."""
    if not _listening(proc, port, log_path, timeout, announced=False):
        pytest.fail(f"{name} exited with {proc.returncode}; see {log_path}")


def _listening(proc, port: int, log_path, timeout: float, announced: bool = True) -> bool:
    """True once ``proc`` accepts connections on ``port`` (and, if ``announced``, its log names that URL, so the
    listener is this server and not another process that took the port); False if it exited first."""
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if not announced or url in Path(log_path).read_text(errors="replace"):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return proc.poll() is None
            except OSError:
                pass
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    pytest.fail(f"{proc.args[0]} did not start listening on port {port} within {timeout:.0f} s; see {log_path}")


@dataclass
class Server:
    """A server started by a test: where it answers, its process and its log."""
    url: str
    proc: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve(argv, *, name: str, env: dict | None = None, cwd=ROOT, tries: int = 3, timeout: float = 120):
    """Run ``argv(port)`` (a server command line for a given port) on a free loopback port until it is listening;
    yield a :class:`Server`, and stop the server afterwards. A start that loses its port to another process is
    retried on a new port (``tries`` times); any other early exit fails the test, naming the log."""
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"{name}-{os.getpid()}.log"
    for attempt in range(tries):
        port = free_port()
        with open(log_path, "w") as log:
            proc = subprocess.Popen(argv(port), stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                                    env={**os.environ, **(env or {})})
        if _listening(proc, port, log_path, timeout):
            break
        if not PORT_IN_USE.search(log_path.read_text(errors="replace")) or attempt == tries - 1:
            pytest.fail(f"{name} exited with {proc.returncode} before listening; see {log_path}")
    try:
        yield Server(f"http://127.0.0.1:{port}/", proc, log_path)
    finally:
        proc.terminate()                                 # Jupyter servers and Voilà shut their kernels down first
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.replace(log_path, ARTIFACTS / f"{name}.log")


@contextmanager
def voila_server(notebook, *, heartbeat_s: float | None = None, env: dict | None = None, name: str | None = None):
    """Serve ``notebook`` with Voilà as ``make app`` does (binder/jupyter: the offline template, idle-kernel
    culling) on a free port; yield a :class:`Server`. ``heartbeat_s`` sets PGLAB_HEARTBEAT_S (how soon a closed
    page pauses its worker); the log is ``test-artifacts/voila-<path under notebooks/, "-" for "/">.log`` (e.g.
    voila-app.log, voila-zh-app.log) unless ``name`` says."""
    voila = Path(sys.executable).with_name("voila")
    env = {"JUPYTER_CONFIG_PATH": str(SERVING), "JUPYTER_PATH": str(SERVING), **(env or {})}
    if heartbeat_s is not None:
        env["PGLAB_HEARTBEAT_S"] = str(heartbeat_s)
    argv = lambda port: [str(voila), str(notebook), "--no-browser", f"--port={port}",   # noqa: E731
                         "--Voila.ip=127.0.0.1", "--Voila.port_retries=0"]
    where = Path(notebook).resolve()
    stem = "-".join(where.relative_to(ROOT / "notebooks").with_suffix("").parts) if where.is_relative_to(
        ROOT / "notebooks") else where.stem
    with serve(argv, name=name or f"voila-{stem}", env=env) as server:
        yield server


@contextmanager
def jupyterlab_server(root_dir, *, name: str = "jupyterlab"):
    """JupyterLab serving ``root_dir`` with a fresh, throw-away settings folder and workspace (the default layout:
    file browser open), no token, autosave off (it never writes a notebook), and ``window.jupyterapp`` exposed so
    that a test can run JupyterLab's own commands; yield a :class:`Server`."""
    jupyter = Path(sys.executable).with_name("jupyter")
    home = Path(tempfile.mkdtemp(prefix="pglab-jlab-"))
    for plugin, values in {"docmanager-extension/plugin": {"autosave": False},
                           "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}}.items():
        settings = home / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps(values))
    env = {"JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    argv = lambda port: [str(jupyter), "lab", "--no-browser", "--ServerApp.token=", "--ServerApp.password=",  # noqa
                         "--ServerApp.ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
                         f"--ServerApp.root_dir={root_dir}", "--LabApp.expose_app_in_browser=True",
                         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None",
                         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])]
    try:
        with serve(argv, name=name, env=env) as server:
            yield server
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def chromium():
    """A headless Chromium (Debian's) driven by Playwright, with a temporary profile of its own; skips the test
    where there is no Chromium (outside CI)."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str, width: int, height: int, *, ready=None, timeout_ms: int = 180_000):
    """A new page at ``url`` in a ``width`` × ``height`` viewport that records uncaught script errors in
    ``page.errors`` and requests leaving the machine in ``page.foreign``; if given, ``ready(page)`` is a locator
    to wait for (e.g. the lab's Train button: the kernel has run the notebook)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.errors, page.foreign = [], []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
            else page.foreign.append(r.url))
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    if ready is not None:
        ready(page).wait_for(timeout=timeout_ms)
    return page


LAB_CONTROLS = {"select": 3, ".widget-toggle-button": 8, ".noUi-handle": 7, "input[type=text]": 7}
"""How many of each control :func:`hover_titles` probes the live lab holds (3 dropdowns, 8 contender toggles, 7 slider
handles and the 7 text boxes beside them), in either language."""


def hover_titles(page) -> list[tuple[str, list[str]]]:
    """For the lab's dropdowns, contender toggles, slider handles and text boxes: each element's hover title, the
    browser's own (the nearest ``title`` attribute up the tree), as [(selector, [title per element])]."""
    return page.evaluate("""selectors => {
        const title = el => { for (; el; el = el.parentElement) if (el.getAttribute('title')) return el.getAttribute('title'); return ''; };
        return selectors.map(sel => [sel, Array.from(document.querySelectorAll(sel)).map(title)]);
    }""", list(LAB_CONTROLS))


def kernel_states(server_url: str) -> dict[str, str]:
    """The Jupyter server's sessions as {notebook path: kernel execution state} (its REST API, no token)."""
    with urllib.request.urlopen(server_url + "api/sessions", timeout=30) as response:
        return {s["path"]: (s.get("kernel") or {}).get("execution_state", "") for s in json.load(response)}


def wait_for_kernel_idle(server_url: str, path: str, timeout: float = 180) -> None:
    """Block until the kernel of the session on ``path`` reports ``idle`` twice in a row, 0.5 s apart (it has
    started, and has no work queued); fail the test naming the last state otherwise."""
    deadline, state, idle_seen = time.monotonic() + timeout, "no session", 0
    while time.monotonic() < deadline:
        state = kernel_states(server_url).get(path, "no session")
        idle_seen = idle_seen + 1 if state == "idle" else 0
        if idle_seen == 2:
            return
        time.sleep(0.5)
    pytest.fail(f"the kernel of {path} was not idle within {timeout:.0f} s (last state: {state})")


def kernels_cpu_seconds(server_pid: int) -> float:
    """User + system CPU seconds used so far by the processes ``server_pid`` started (a server's kernels)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == server_pid:                  # ppid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def wait_for_busy_kernels(server_pid: int, cpu_s: float = 1.0, timeout: float = 90) -> float:
    """Block until the kernels of ``server_pid`` have used ``cpu_s`` more CPU seconds (a worker is computing);
    return their rate, CPU seconds per second. Fails the test after ``timeout`` seconds. A rate, not a fixed
    window: on a loaded machine a busy kernel gets less than a core, and still counts as busy."""
    start, t0 = kernels_cpu_seconds(server_pid), time.monotonic()
    while time.monotonic() - t0 < timeout:
        time.sleep(0.5)
        used = kernels_cpu_seconds(server_pid) - start
        if used >= cpu_s:
            return used / (time.monotonic() - t0)
    pytest.fail(f"the kernels used {used:.2f} CPU s in {timeout:.0f} s: nothing was computing")


def wait_for_idle_kernels(server_pid: int, busy_rate: float, window: float = 4, timeout: float = 90) -> float:
    """Block until the kernels of ``server_pid`` use, over ``window`` seconds, under a quarter of ``busy_rate``
    (what they used while busy) and under 0.2 CPU s per second; return the seconds that took. Fails the test
    after ``timeout`` seconds, naming the last rate."""
    limit, t0 = min(0.2, busy_rate / 4), time.monotonic()
    while time.monotonic() - t0 < timeout:
        before, w0 = kernels_cpu_seconds(server_pid), time.monotonic()
        time.sleep(window)
        rate = (kernels_cpu_seconds(server_pid) - before) / (time.monotonic() - w0)
        if rate < limit:
            return time.monotonic() - t0
    pytest.fail(f"the kernels still used {rate:.2f} CPU s per s (busy: {busy_rate:.2f}) {timeout:.0f} s on")
