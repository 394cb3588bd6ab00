"""The live lab: race REINFORCE against A2C while their gradient variance is measured.

    lab = pg.app.Lab()          # shows the dashboard in a notebook or in Voilà
    lab.train(block=True)       # or click Train; results stay in lab.results

The page is thin over :class:`pglab.race.Race`. Training runs in a worker
thread, so the buttons stay live; **Stop** sets a ``threading.Event`` that the
race checks before every update. A second thread redraws the plots every
``refresh_seconds``. Both touch the page only by setting widget values
(progress, status, an ``Image`` fed PNGs rendered with matplotlib's object API
on the Agg canvas, HTML text) — never ``print`` or ``with output:``. A bad
value or combination shows a message in the page.
"""
from __future__ import annotations

import html
import threading
import time

import ipywidgets as w
import torch

from . import checks
from .advantages import BASELINES
from .plots import RacePlot, to_png
from .policies import TRUNKS
from .race import CONTENDERS, Race, RaceConfig
from .tasks import TASKS

STYLE = {"description_width": "120px"}
WIDE = w.Layout(width="330px")


# The sliders' ranges and steps. A value a slider cannot show is refused, never snapped to the grid.
SLIDERS = {"gamma": (0.0, 1.0, 0.01), "gae_lambda": (0.0, 1.0, 0.01), "lr": (1e-5, 1e-1, None),
           "batch_size": (8, 256, 8), "entropy_coef": (0.0, 0.1, 0.005), "steps": (10, 2000, 10), "seeds": (1, 8, 1)}


def check_controls(settings: dict) -> None:
    """Raise ``ValueError`` for a setting the page's sliders cannot show exactly (range or step)."""
    for key, value in settings.items():
        if key not in SLIDERS:
            continue
        lo, hi, step = SLIDERS[key]
        if not lo <= value <= hi:
            raise ValueError(f"{key} must be in [{lo:g}, {hi:g}] in the live lab, got {value!r}")
        if step is not None and abs(round((value - lo) / step) * step + lo - value) > 1e-9:
            raise ValueError(f"{key} must be a multiple of {step:g} in the live lab (from {lo:g}), got {value!r}")


class Lab:
    """The dashboard; keyword arguments set the initial controls (see :class:`RaceConfig`)."""

    def __init__(self, refresh_seconds: float = 0.9, **settings) -> None:
        cfg = RaceConfig(**settings)                       # bad keyword values raise here, where they enter
        check_controls({k: getattr(cfg, k) for k in settings if k in SLIDERS})
        refresh_seconds = checks.positive_float("refresh_seconds", refresh_seconds)
        if refresh_seconds > 60:
            raise ValueError(f"refresh_seconds must be in (0, 60], got {refresh_seconds!r}")
        self._fixed = {"measure_every": cfg.measure_every, "meter_batches": cfg.meter_batches,  # no control
                       "device": cfg.device}
        self.refresh_seconds = refresh_seconds
        self.race: Race | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.renders = 0
        self._figure = RacePlot()
        self.controls = self._make_controls(cfg)
        self.buttons = {name: w.Button(description=name, layout=w.Layout(width="104px"))
                        for name in ("Train", "Stop", "Reset")}
        self.buttons["Train"].button_style, self.buttons["Stop"].button_style = "success", "warning"
        self.buttons["Train"].on_click(lambda _: self.train())
        self.buttons["Stop"].on_click(lambda _: self.stop())
        self.buttons["Reset"].on_click(lambda _: self.reset())
        self.progress = w.IntProgress(value=0, min=0, max=cfg.steps, layout=WIDE)
        self.status = w.Label(value="ready — press Train")
        self.message = w.HTML(value="")
        self.plot = w.Image(format="png", layout=w.Layout(width="100%"))
        self.readout = w.HTML(value="")
        self.samples = w.HTML(value="")
        self.widget = self._layout()
        self._set_running(False)
        self._render()

    # ----- building the page -------------------------------------------------------------
    def _make_controls(self, cfg: RaceConfig) -> dict[str, w.Widget]:
        slider = dict(continuous_update=False, style=STYLE, layout=WIDE)
        lim = {k: dict(min=lo, max=hi, **({} if st is None else {"step": st})) for k, (lo, hi, st) in SLIDERS.items()}
        return {
            "task": w.Dropdown(options=list(TASKS), value=cfg.task, description="task", style=STYLE, layout=WIDE),
            "policy": w.Dropdown(options=list(TRUNKS), value=cfg.policy, description="policy", style=STYLE, layout=WIDE),
            **{f"race:{c}": w.Checkbox(value=c in cfg.contenders, description=c, indent=False) for c in CONTENDERS},
            "baseline": w.Dropdown(options=[b for b in BASELINES if b != "none"], value=cfg.baseline,
                                   description="baseline", style=STYLE, layout=WIDE),
            "gamma": w.FloatSlider(value=cfg.gamma, **lim["gamma"], description="γ (discount)", **slider),
            "gae_lambda": w.FloatSlider(value=cfg.gae_lambda, **lim["gae_lambda"], description="λ (GAE)", **slider),
            "lr": w.FloatLogSlider(value=cfg.lr, base=10, min=-5, max=-1, step=0.1, description="learning rate",
                                   readout_format=".1e", **slider),
            "batch_size": w.IntSlider(value=cfg.batch_size, **lim["batch_size"], description="batch size", **slider),
            "entropy_coef": w.FloatSlider(value=cfg.entropy_coef, **lim["entropy_coef"],
                                          description="entropy coef", readout_format=".3f", **slider),
            "steps": w.IntSlider(value=cfg.steps, **lim["steps"], description="steps", **slider),
            "seeds": w.IntSlider(value=cfg.seeds, **lim["seeds"], description="seeds", **slider),
        }

    def _layout(self) -> w.Widget:
        c = self.controls
        contenders = w.VBox([w.HTML("<b>contenders</b>")] + [c[f"race:{n}"] for n in CONTENDERS])
        left = w.VBox([c["task"], c["policy"], contenders, c["baseline"], c["gamma"], c["gae_lambda"], c["lr"],
                       c["batch_size"], c["entropy_coef"], c["steps"], c["seeds"],
                       w.HBox(list(self.buttons.values())), self.progress, self.status, self.message],
                      layout=w.Layout(width="350px", min_width="350px"))
        right = w.VBox([self.plot, self.readout, self.samples], layout=w.Layout(flex="1 1 auto", overflow="hidden"))
        title = w.HTML("<h3 style='margin:4px 0'>REINFORCE vs A2C — why baselines and critics work</h3>")
        return w.VBox([title, w.HBox([left, right])])

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)

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
                raise ValueError(f"unknown setting {', '.join(unknown)}; known: {', '.join(sorted(self._values()))}")
            cfg = RaceConfig(**{**self._values(), **settings})
            check_controls({k: getattr(cfg, k) for k in settings if k in SLIDERS})
        except (ValueError, TypeError) as err:
            self._show_error(err)
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

    def train(self, block: bool = False) -> bool:
        """Start a race in a worker thread (Train). Returns False if it could not start."""
        if self.running:
            self._show_error("already training — press Stop first")
            return False
        try:
            self.race = Race(self.config())
        except (ValueError, TypeError) as err:
            self._show_error(err)
            return False
        self._figure = RacePlot()
        self.message.value = ""
        self._stop.clear()
        self.progress.max, self.progress.value = self.race.config.steps, 0
        self._set_running(True)
        self._thread = threading.Thread(target=self._work, name="pglab-race", daemon=True)
        self._thread.start()
        if block:
            self.wait()
        return True

    def stop(self) -> None:
        """Stop after the current update (Stop)."""
        self._stop.set()

    def reset(self) -> None:
        """Stop, forget the race and clear the plots (Reset)."""
        self.stop()
        self.wait()
        self.race = None
        self._figure = RacePlot()
        self.progress.value = 0
        self.status.value = "ready — press Train"
        self.message.value = self.readout.value = self.samples.value = ""
        self._render()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the worker thread ends."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def results(self) -> dict:
        """Histories per contender (one per seed) of the current race."""
        return {} if self.race is None else self.race.histories

    # ----- the worker thread ----------------------------------------------------------------------
    def _work(self) -> None:
        race = self.race
        # ATen's OpenMP team runs far slower when driven from a non-main thread (2.2x slower
        # with 2 threads than with 1 on a 2-core machine), so the worker uses one intra-op thread.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        done = threading.Event()
        painter = threading.Thread(target=self._paint, args=(done,), name="pglab-plots", daemon=True)
        painter.start()
        try:
            reason = race.run(self._stop, self._on_step)
            status = f"step {race.step}/{race.config.steps} — {reason} in {race.seconds:.1f} s"
        except Exception as err:  # noqa: BLE001 - a failed run must not take the page down
            status = f"step {race.step}/{race.config.steps} — failed"
            self._show_error(err)
        finally:
            torch.set_num_threads(threads)
            done.set()
            painter.join()
        try:
            self._render()                   # the final picture first, then the status that announces it
        except Exception as err:  # noqa: BLE001
            self._show_error(err)
        self.status.value = status
        self._set_running(False)

    def _on_step(self, race: Race) -> None:
        self.progress.value = race.step
        self.status.value = f"step {race.step}/{race.config.steps}"

    def _paint(self, done: threading.Event) -> None:
        """Re-render the plots every ``refresh_seconds`` while the race runs (its own thread, so
        drawing overlaps training on the second core; only this thread draws meanwhile)."""
        spent = 0.0
        while not done.wait(max(0.05, self.refresh_seconds - spent)):   # one frame per period
            start = time.perf_counter()
            try:
                self._render()
            except Exception:  # noqa: BLE001 - a failed frame is skipped, the next one retries
                pass
            spent = time.perf_counter() - start

    def _render(self) -> None:
        race = self.race
        histories = {} if race is None else race.histories
        meter = {} if race is None else race.meter
        self.plot.value = to_png(self._figure.update(histories, meter).figure, dpi=90)
        self.renders += 1
        if race is not None:
            self.readout.value = self._readout_html(race)
            self.samples.value = self._samples_html(race)

    @staticmethod
    def _readout_html(race: Race) -> str:
        ratios = race.variance_ratios()
        if not ratios:
            return "<i>Race vanilla REINFORCE too, to compare gradient variances.</i>"
        parts = [f"<b>{html.escape(n)}</b>: variance ×{r:.1f} lower than vanilla REINFORCE" if r >= 1 else
                 f"<b>{html.escape(n)}</b>: variance ×{1 / r:.1f} higher than vanilla REINFORCE"
                 for n, r in ratios.items()]
        return "<div>" + " &nbsp;|&nbsp; ".join(parts) + f" <small>(latest meter, step {race.step})</small></div>"

    @staticmethod
    def _samples_html(race: Race) -> str:
        rows = "".join(f"<div><b>{html.escape(name)}</b>: <code>{' &nbsp;·&nbsp; '.join(html.escape(t) for t in texts)}</code></div>"
                       for name, texts in race.samples().items())
        return f"<div style='line-height:1.6'><i>samples (prompt → completion)</i>{rows}</div>"

    def _set_running(self, running: bool) -> None:
        self.buttons["Train"].disabled = running
        self.buttons["Stop"].disabled = not running
        for widget in self.controls.values():
            widget.disabled = running

    def _show_error(self, err: object) -> None:
        self.message.value = f"<div style='color:#c0392b'><b>Cannot do that:</b> {html.escape(str(err))}</div>"
