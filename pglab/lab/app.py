"""The live lab: race the ladder whole return → reward-to-go → + baseline → A2C, and compare their
gradient estimators at the same policy, with intervals.

    lab = pg.app.Lab()          # shows the page in a notebook or in Voilà
    lab.train(block=True)       # or click Train; lab.results keeps Histories and meter points
    pg.app.Lab(lang="zh")       # the same page in Chinese (``make app-zh`` serves notebooks/zh/app.ipynb)

The page only displays: the race and its meter live in :mod:`pglab.lab.race` and
:mod:`pglab.lab.meter` (no widgets, tested on their own), the controls in
:mod:`pglab.lab.controls`, the panels in :mod:`pglab.lab.plots`. Training runs in
a worker thread; **Stop** sets a ``threading.Event`` that the race checks before
every update and pauses it, **Train** resumes, **Reset** clears. Threads touch
the page only by setting widget values. A hidden ``Play`` widget ticks from the
browser as a heartbeat: when the page goes away the ticks stop and the worker
pauses, so a closed tab stops using the CPU (and its idle kernel can be culled).

Every word on the page comes from the catalogue of its language (:mod:`pglab.lab.messages`: ``lang="en"`` or
``"zh"``). The page's own errors are written in that language; an error raised below it (``RaceConfig``,
:mod:`pglab.checks`, training) is caught and translated by key there (:meth:`Catalogue.error`). Chinese panels
need a CJK font (Debian: fonts-noto-cjk); without one they keep English words and one line under the title says
why (no missing-glyph boxes, no warnings).
"""
from __future__ import annotations

import html
import os
import threading
import time

import torch

from .. import checks

try:
    import ipywidgets as w
except ModuleNotFoundError as _err:                 # one line that says what to install, not a bare traceback
    raise ModuleNotFoundError(checks.missing_extra("pglab.lab (the live lab)", "app", _err), name=_err.name) from None
from .controls import (NARROWER, SLIDERS, TipRow, check_controls, fmt, label, make_controls, parse_typed, tip,
                       typed_boxes)
from .messages import LANGS, Localized, catalogue
from .plots import RacePanels, cjk_font
from .text import readout_html, samples_html
from .race import CONTENDERS, Race, RaceConfig, RaceResults, estimate_seconds

__all__ = ["Lab", "LANGS", "SLIDERS", "check_controls", "PRESETS", "RaceResults"]

WARN_SECONDS = 180
CJK_ROOT = "pglab-lab-cjk"
"""The class of a Chinese page's top box: its fonts prefer the Simplified Chinese faces (a browser otherwise
often picks Noto Sans CJK JP, whose punctuation sits in the middle of the line)."""
CJK_CSS = (f" .{CJK_ROOT}, .{CJK_ROOT} *:not(code) {{font-family: 'Noto Sans CJK SC', 'Source Han Sans SC', "
           "'PingFang SC', 'Microsoft YaHei', sans-serif}")
"""Ask for a second click before a race estimated to take longer than this."""
PRESETS = {
    "chapter04": {"contenders": ("REINFORCE (reward-to-go)", "REINFORCE + baseline"), "steps": 200},
    "chapter05": {"contenders": ("REINFORCE", "A2C"), "steps": 200, "gamma": 1.0, "gae_lambda": 0.9},
}
"""Starting settings for the race embedded in a chapter (``Lab.preset("chapter05")``)."""


class Lab:
    """The page; keyword arguments set the initial controls (see :class:`RaceConfig`); ``lang`` is one of
    :data:`~pglab.lab.messages.LANGS` ("en", "zh")."""

    def __init__(self, refresh_seconds: float = 0.9, heartbeat_timeout: float | None = None, lang: str = "en",
                 **settings) -> None:
        self.t = t = catalogue(lang)                       # an unknown lang: ValueError naming `lang` and LANGS
        try:                                               # bad keyword values raise here, where they enter,
            check_controls(settings, t, NARROWER, grid=False)  # the page's range first where it is narrower
            cfg = RaceConfig(**settings)
            check_controls({k: getattr(cfg, k) for k in settings if k in SLIDERS}, t)
        except ValueError as err:
            if lang == "en" or isinstance(err, Localized):
                raise
            raise Localized(t.error(err)) from None        # in the page's language
        refresh_seconds = checks.positive_float("refresh_seconds", refresh_seconds)
        if refresh_seconds > 60:
            raise ValueError(f"refresh_seconds must be in (0, 60], got {refresh_seconds!r}")
        timeout = heartbeat_timeout if heartbeat_timeout is not None else float(os.environ.get("PGLAB_HEARTBEAT_S", 30))
        self.heartbeat_timeout = checks.positive_float("heartbeat_timeout", timeout)
        self._fixed = {k: getattr(cfg, k) for k in ("measure_every", "meter_batches", "device", "seed")}  # no control
        self.refresh_seconds = refresh_seconds
        self.race: Race | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._confirm: RaceConfig | None = None
        self._last_beat: float | None = None
        self.renders = 0
        family = None if lang == "en" else cjk_font()
        self.font_missing = lang != "en" and family is None           # then the panels keep English words
        self._panels = RacePanels(t=catalogue("en") if self.font_missing else t, family=family)
        self.controls = make_controls(cfg, t)
        self.typed = typed_boxes(self.controls, t)
        self._wire_typed()
        self.buttons = {name: w.Button(description=t(f"button.{name}"), tooltip=t(f"tip.button.{name}"),
                                       layout=w.Layout(width="96px"))
                        for name in ("Train", "Stop", "Reset")}                # keyed by the English name
        self.buttons["Train"].button_style, self.buttons["Stop"].button_style = "success", "warning"
        self.buttons["Train"].on_click(lambda _: self.train())
        self.buttons["Stop"].on_click(lambda _: self.stop())
        self.buttons["Reset"].on_click(lambda _: self.reset())
        self.progress = w.IntProgress(value=0, min=0, max=cfg.steps, layout=w.Layout(width="180px"))
        self.status = w.Label(value=t("status.ready"))
        # a fixed height, so an error message does not push the form down
        self.message = w.HTML(value="", layout=w.Layout(height="2.8em", overflow="auto", margin="0"))
        self.plots = [w.Image(format="png", layout=w.Layout(width="100%")) for _ in range(3)]
        self.readout = w.HTML(value="")
        self.samples = w.HTML(value="")
        # The Play view starts its timer only when `playing` turns True after it is shown: Train does that.
        self.heartbeat = w.Play(value=0, min=0, max=10 ** 9, interval=2000, playing=False, show_repeat=False,
                                layout=w.Layout(display="none"))
        self.heartbeat.observe(lambda _: self._beat(), "value")
        self.widget = self._layout()
        self.controls["steps"].observe(lambda _: self._render() if self.race is None else None, "value")
        self._set_running(False)
        self._render()

    @classmethod
    def preset(cls, name: str, **settings) -> "Lab":
        """A lab with a chapter's starting settings, e.g. ``Lab.preset("chapter05")``."""
        checks.choice("preset", name, list(PRESETS))
        return cls(**{**PRESETS[name], **settings})

    # ----- building the page -------------------------------------------------------------
    def _layout(self) -> w.Widget:
        c, typed, t = self.controls, self.typed, self.t
        row = lambda k: TipRow([label(k, t), c[k], *([typed[k]] if k in typed else [])],  # noqa: E731
                               tooltip=tip(k, t))
        hint = lambda key: w.HTML("<div style='margin:-4px 0 4px 108px;font-size:12px;color:#555'>"  # noqa: E731
                                  f"{html.escape(t(key))}</div>")
        contenders = [w.HTML(f"<b>{html.escape(t('contenders'))}</b> <small>{html.escape(t('contenders.hover'))}"
                             "</small>")]
        contenders += [c[f"race:{n}"] for n in CONTENDERS]
        left = w.VBox([row("task"), row("policy"), *contenders, row("baseline"), hint("hint.baseline"),
                       row("gamma"), row("gae_lambda"), hint("hint.gae"), row("lr"), row("batch_size"),
                       row("entropy_coef"), row("steps"), row("seeds")],
                      layout=w.Layout(width="310px", min_width="310px", margin="0 12px 0 0"))
        # no growth: a panel left alone on the last row keeps the others' width
        panel = w.Layout(flex="0 1 320px", min_width="280px")
        plots = w.Box([w.Box([p], layout=panel) for p in self.plots],
                      layout=w.Layout(display="flex", flex_flow="row wrap", width="100%"))
        right = w.VBox([plots, self.readout, self.samples], layout=w.Layout(flex="1 1 320px", min_width="300px"))
        bar = w.HBox([*self.buttons.values(), self.progress, self.status],
                     layout=w.Layout(flex_flow="row wrap", align_items="center"))
        title = w.HTML(f"<h3 style='margin:2px 0'>{html.escape(t('title'))}</h3>")
        style = w.HTML("<style>.widget-label, .widget-html-content, .widget-toggle-button {font-size: 14px}"
                       + ("" if t.lang == "en" else CJK_CSS) + "</style>")
        body = w.Box([left, right], layout=w.Layout(display="flex", flex_flow="row wrap"))
        note = [w.HTML(f"<div style='font-size:12px;color:#9a6700'>{html.escape(t('font.missing'))}</div>")
                ] if self.font_missing else []
        page = w.VBox([style, title, *note, bar, self.message, body, self.heartbeat])
        if t.lang != "en":
            page.add_class(CJK_ROOT)
        return page

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)

    def _wire_typed(self) -> None:
        for key, box in self.typed.items():
            self.controls[key].observe(lambda ch, k=key: setattr(self.typed[k], "value", fmt(k, ch["new"])), "value")
            box.observe(lambda ch, k=key: self._typed(k, ch["new"]), "value")

    def _typed(self, key: str, text: str) -> None:
        if text == fmt(key, self.controls[key].value):
            return
        try:
            value = parse_typed(key, text, self.t)
        except ValueError as err:
            self._show_error(self.t.error(err))
            self.typed[key].value = fmt(key, self.controls[key].value)      # the box shows the kept value
            return
        self.controls[key].value = value
        self.message.value = ""

    # ----- configuration ---------------------------------------------------------------------
    def _values(self) -> dict:
        c = self.controls
        values = {k: v.value for k, v in c.items() if not k.startswith("race:")}
        values["contenders"] = tuple(n for n in CONTENDERS if c[f"race:{n}"].value)
        return {**self._fixed, **values}

    def config(self) -> RaceConfig:
        """The race the controls describe (raises ``ValueError`` for an invalid combination)."""
        return RaceConfig(**self._values())

    def configure(self, **settings) -> bool:
        """Set controls from Python; an invalid value shows the message and changes nothing."""
        try:
            unknown = sorted(set(settings) - set(self.controls) - set(self._fixed) - {"contenders"})
            if unknown:
                raise Localized(self.t("error.unknown_setting", names=self.t.join(unknown),
                                       known=self.t.join(sorted(self._values()))))
            check_controls(settings, self.t, NARROWER, grid=False)  # the page's range first where narrower
            cfg = RaceConfig(**{**self._values(), **settings})
            check_controls({k: getattr(cfg, k) for k in settings if k in SLIDERS}, self.t)
        except (ValueError, TypeError) as err:
            self._show_error(self.t.error(err))
            return False
        for key, value in settings.items():
            if key == "contenders":
                for n in CONTENDERS:
                    self.controls[f"race:{n}"].value = n in value
            elif key in self.controls:
                self.controls[key].value = value
            else:
                self._fixed[key] = value
        self.message.value = ""
        return True

    # ----- the buttons ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def paused(self) -> bool:
        return self.race is not None and not self.running and not self.race.finished

    def train(self, block: bool = False) -> bool:
        """Start a race, or resume a paused one (Train). Returns False if nothing started."""
        if self.running:
            return False
        t = self.t
        self._set_running(True, label=t("button.starting"))  # at once, before any slow work
        try:
            cfg = self.config()
        except (ValueError, TypeError) as err:
            self._set_running(False)
            self._show_error(t.error(err) + (t("error.previous_race") if self.race else ""))
            return False
        resume = self.race is not None and _same_race(self.race.config, cfg) and cfg.steps > self.race.step
        if not resume and estimate_seconds(cfg) > WARN_SECONDS and self._confirm != cfg:
            self._confirm = cfg
            self._set_running(False)
            minutes = estimate_seconds(cfg) / 60
            hours = minutes >= 120 and t.lang != "en"    # "约 16 小时"; English keeps its minutes
            self._show_error(t("warning.long_race_hours", hours=minutes / 60) if hours else
                             t("warning.long_race", minutes=minutes), warning=True)
            return False
        self._confirm = None
        self.message.value = ""
        if resume:
            self.race.config.steps = cfg.steps
            note = t("status.resuming", step=self.race.step)
        else:
            note = t("status.starting") if self.race is None else t("status.new_race")
            self.race = None
        self.status.value = note
        self._stop.clear()
        self._last_beat = None
        self.heartbeat.playing = True                       # the page (if any) starts ticking now
        self.progress.max = cfg.steps
        self._thread = threading.Thread(target=self._work, args=(cfg, resume), name="pglab-race", daemon=True)
        self._thread.start()
        if block:
            self.wait()
        return True

    def stop(self) -> None:
        """Pause after the current update (Stop); Train resumes."""
        self._stop.set()

    def reset(self) -> None:
        """Stop, forget the race and clear the plots (Reset)."""
        self.stop()
        self.wait()
        self.race = None
        self._confirm = None
        self.progress.value = 0
        self.status.value = self.t("status.ready")
        self.message.value = self.readout.value = self.samples.value = ""
        self._set_running(False)
        self._render()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the worker thread ends."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def results(self) -> RaceResults:
        """Histories per contender (one per seed) and the meter points of the current race."""
        return RaceResults(self.race)

    # ----- the worker thread ----------------------------------------------------------------------
    def _work(self, cfg: RaceConfig, resume: bool) -> None:
        # ATen's OpenMP team runs far slower when driven from a non-main thread (2.2x slower
        # with 2 threads than with 1 on a 2-core machine), so the worker uses one intra-op thread.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        done = threading.Event()
        painter = threading.Thread(target=self._paint, args=(done,), name="pglab-plots", daemon=True)
        t = self.t
        status = "failed"
        try:
            if not resume:
                self.race = Race(cfg)
            race = self.race
            self.buttons["Train"].description = t("button.Train")
            painter.start()
            reason = race.run(self._stop, self._on_step)
            if reason == "stopped":
                why = t("status.why.page_gone") if self._page_gone() else t("status.why.stopped")
                status = t("status.paused", step=race.step, steps=race.config.steps, why=why)
            else:
                status = t("status.finished", step=race.step, steps=race.config.steps, seconds=race.seconds)
        except Exception as err:  # noqa: BLE001 - a failed run must not take the page down
            step = 0 if self.race is None else self.race.step
            status = t("status.failed", step=step, steps=cfg.steps)
            self._show_error(t.error(err))
        finally:
            torch.set_num_threads(threads)
            done.set()
            if painter.is_alive():
                painter.join()
        try:
            self._render(samples=True)       # the final picture first, then the status that announces it
        except Exception as err:  # noqa: BLE001
            self._show_error(t.error(err))
        self.status.value = status
        self._set_running(False)

    def _on_step(self, race: Race) -> None:
        self.progress.value = race.step
        eta = race.eta()
        self.status.value = (self.t("status.step", step=race.step, steps=race.config.steps)
                             + ("" if eta is None else self.t("status.eta", eta=eta)))
        if self._page_gone():
            self._stop.set()

    def _beat(self) -> None:
        self._last_beat = time.monotonic()

    def _page_gone(self) -> bool:
        """True once heartbeats have arrived and then stopped for ``heartbeat_timeout`` seconds."""
        return self._last_beat is not None and time.monotonic() - self._last_beat > self.heartbeat_timeout

    def _paint(self, done: threading.Event) -> None:
        """Re-render every ``refresh_seconds`` while the race runs (its own thread, so drawing overlaps
        training on the second core; only this thread draws meanwhile)."""
        spent, sampled = 0.0, -1
        # one frame per period, and drawing at most a quarter of the time: it holds the GIL the worker needs
        while not done.wait(max(self.refresh_seconds - spent, 3 * spent, 0.05)):
            start = time.perf_counter()
            step = 0 if self.race is None else self.race.step
            try:
                self._render(samples=sampled < 0 or step - sampled >= 50)
                sampled = step if sampled < 0 or step - sampled >= 50 else sampled
            except Exception:  # noqa: BLE001 - a failed frame is skipped, the next one retries
                pass
            spent = time.perf_counter() - start

    def _render(self, samples: bool = False) -> None:
        race = self.race
        steps = self.controls["steps"].value if race is None else race.config.steps
        self._panels.update({} if race is None else race.histories, [] if race is None else race.points, steps)
        for image, png in zip(self.plots, self._panels.pngs()):
            if image.value is not png:                   # an unchanged panel is not sent again
                image.value = png
        self.renders += 1
        if race is not None:
            self.readout.value = readout_html(race, self.t)
            if samples:
                self.samples.value = samples_html(race, self.t)

    def _set_running(self, running: bool, label: str | None = None) -> None:
        self.buttons["Train"].disabled = running
        self.buttons["Train"].description = label or self.t("button.Train")
        self.buttons["Stop"].disabled = not running
        for widget in [*self.controls.values(), *self.typed.values()]:
            widget.disabled = running

    def _show_error(self, text: str, warning: bool = False) -> None:
        """Show ``text`` (already in the page's language) on the message line."""
        head, colour = ("warning.head", "#9a6700") if warning else ("error.head", "#c0392b")
        gap = " " if self.t.lang == "en" else ""            # a Chinese colon carries its own space
        self.message.value = (f"<div style='color:{colour}'><b>{html.escape(self.t(head))}</b>{gap}"
                              f"{html.escape(text)}</div>")


def _same_race(a: RaceConfig, b: RaceConfig) -> bool:
    """Same settings except the number of steps (which Train may raise to continue)."""
    return {**vars(a), "steps": 0} == {**vars(b), "steps": 0}
