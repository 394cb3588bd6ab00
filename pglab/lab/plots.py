"""The live lab's three panels, each its own small figure so the page can wrap them on a narrow screen.

Reward (mean over seeds, ±1 std band when there are several), gradient variance
and gradient SNR at the meter's shared policy θ (95 % intervals as error bars).
Object API and the Agg canvas only (safe from a worker thread). Every word comes from a message catalogue
(:mod:`pglab.lab.messages`); Chinese panels name a CJK font (:func:`cjk_font`) on each text they draw, so no
global rcParams change.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .messages import Catalogue
from .meter import YARDSTICK, MeterPoint
from ..plots import smooth, to_png
from ..train import History

ORDER = ("REINFORCE", "REINFORCE (reward-to-go)", "REINFORCE + baseline", "A2C", "PPO", "RLOO", "GRPO", "Dr. GRPO",
         YARDSTICK)
SHORT = {n: Catalogue("en").short(n) for n in ORDER}
"""The legend's names in English (the panels show their catalogue's ``short.<name>``)."""
FONT = 10


EDGE = 0.03
"""Share of the x range left empty beyond the first and last update, so a point there is drawn whole."""


def x_range(steps: int) -> tuple[float, float]:
    """The panels' common x range: updates 0..steps with a margin on both sides."""
    pad = EDGE * max(steps, 1)
    return -pad, max(steps, 1) + pad


PALETTE = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9")
"""One colour per contender in ORDER; C7 (grey) is left out: grey is the yardstick's."""


def color(name: str) -> str:
    return "0.45" if name == YARDSTICK else PALETTE[ORDER.index(name)]


CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Noto Serif CJK SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "Source Han Sans SC", "SimHei", "Microsoft YaHei", "PingFang SC")
"""Fonts with Chinese glyphs, best first (Debian's fonts-noto-cjk gives the first)."""


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs, or None.

    Matplotlib's font list is cached on disk when it is first built, so a font installed later is not in it:
    besides the cached list this looks in the system's font folders and registers what it finds.
    """
    from matplotlib import font_manager
    known = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in known:
            return name
    weights = ("bold", "black", "light", "thin", "medium", "heavy")     # the regular face, so weight "normal" exists
    for path in sorted(font_manager.findSystemFonts()):
        stem = Path(path).name.lower()
        if ("cjk" in stem or "wqy" in stem) and not any(wt in stem for wt in weights):
            try:
                font_manager.fontManager.addfont(path)      # a .ttc registers every face in it (SC is one)
                name = font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
            known = {f.name for f in font_manager.fontManager.ttflist}
            for best in CJK_FONTS:                          # Noto's collection: SC, not its first face (JP)
                if best in known:
                    return best
            if "CJK" in name:
                return name
    return None


class RacePanels:
    """Three figures (reward, variance, SNR) redrawn from a race's Histories and meter points.

    ``t`` is the catalogue whose words they show; ``family`` the font family of every text (None: matplotlib's
    default, enough for English).
    """

    def __init__(self, width: float = 4.0, height: float = 3.1, t: Catalogue | None = None,
                 family: str | None = None) -> None:
        self.t = t or Catalogue("en")
        self._font = {} if family is None else {"family": [family, "DejaVu Sans"]}
        self.figures = [Figure(figsize=(width, height), facecolor="white") for _ in range(3)]
        for fig in self.figures:
            FigureCanvasAgg(fig)
            fig.add_subplot(1, 1, 1)
            fig.subplots_adjust(left=0.24, right=0.96, bottom=0.16, top=0.84)
        self._meter_key: tuple | None = None
        self._png: list[bytes | None] = [None, None, None]     # cached renders of unchanged panels

    @property
    def axes(self):
        return [fig.axes[0] for fig in self.figures]

    def update(self, histories: Mapping[str, Sequence[History]], points: Sequence[MeterPoint], steps: int,
               window: int = 10) -> "RacePanels":
        """Redraw the reward panel; the meter panels only when a meter point (or the step range) is new."""
        ax_r, ax_v, ax_s = self.axes
        meter_key = (len(points), id(points[-1]) if points else None, steps)
        panels = [0] if meter_key == self._meter_key else [0, 1, 2]
        self._meter_key = meter_key
        for i in panels:
            ax = self.axes[i]
            ax.clear()
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=FONT - 1)
            ax.set_xlim(*x_range(steps))
            ax.set_xlabel(self.t("plot.x"), fontsize=FONT, **self._font)
            self._png[i] = None
        t, font = self.t, self._font
        ax_r.set_title(t("plot.reward.title"), fontsize=FONT + 1, **font)
        ax_r.set_ylabel(t("plot.reward.y"), fontsize=FONT, **font)
        self._rewards(ax_r, histories, window)
        if not histories:
            ax_r.set_ylim(0, 1)
        if 1 in panels:
            ax_v.set_title(t("plot.variance.title"), fontsize=FONT + 1, **font)
            ax_v.set_ylabel(t("plot.variance.y"), fontsize=FONT, **font)
            ax_s.set_title(t("plot.snr.title"), fontsize=FONT + 1, **font)
            ax_s.set_ylabel(t("plot.snr.y"), fontsize=FONT, **font)
            self._meter(ax_v, points, "variance", log=True)
            self._meter(ax_s, points, "snr", log=False)
        return self

    def _legend(self, ax, **kw) -> None:
        ax.legend(prop={"size": kw.pop("fontsize"), **self._font}, **kw)

    def _rewards(self, ax, histories, window: int) -> None:
        for name, runs in histories.items():
            n = min((len(h) for h in runs), default=0)
            if not n:
                continue
            ys = np.stack([smooth(h["reward/mean"][:n], window) for h in runs])
            mean, std = ys.mean(0), ys.std(0)
            ax.plot(np.arange(1, n + 1), mean, color=color(name), linewidth=2, label=self.t.short(name))
            if len(runs) > 1:
                ax.fill_between(np.arange(1, n + 1), mean - std, mean + std, color=color(name), alpha=0.2)
        if any(min((len(h) for h in runs), default=0) for runs in histories.values()):
            self._legend(ax, loc="lower right", fontsize=FONT - 1)

    def _meter(self, ax, points: Sequence[MeterPoint], key: str, log: bool) -> None:
        # Meter points sit at the first and last update too, each contender nudged sideways:
        # the x range is padded (x_range) and widened further if a nudged point would touch the edge.
        names = [n for n in ORDER if any(n in getattr(p, key) for p in points)]
        if "REINFORCE" in names:
            names.remove(YARDSTICK)                          # the same numbers under its raced name
        width = (points[-1].step - points[0].step) / max(len(points) - 1, 1) if len(points) > 1 else 1.0
        for i, name in enumerate(names):
            pts = [(p.step, getattr(p, key)[name]) for p in points if name in getattr(p, key)]
            x = np.array([s for s, _ in pts]) + (i - (len(names) - 1) / 2) * 0.06 * width
            y = np.array([iv.value for _, iv in pts])
            err = np.array([[max(iv.value - iv.low, 0) for _, iv in pts], [max(iv.high - iv.value, 0) for _, iv in pts]])
            lo, hi = ax.get_xlim()
            margin = EDGE * (hi - lo)
            ax.set_xlim(min(lo, x.min() - margin), max(hi, x.max() + margin))
            ax.errorbar(x, y, yerr=err, fmt="o", color=color(name), markersize=4, capsize=2, linewidth=1.5,
                        linestyle="--" if name == YARDSTICK else "-", label=self.t.short(name))
        if YARDSTICK in names:                               # the grey yardstick needs a name
            self._legend(ax, loc="best", fontsize=FONT - 2)
        if log:
            ax.set_yscale("log")
            if not points:
                ax.set_ylim(1e-3, 1)

    def pngs(self, dpi: int = 80) -> list[bytes]:
        """PNG bytes of the three panels (unchanged panels come from the cache)."""
        self._png = [png if png is not None else to_png(fig, dpi=dpi) for png, fig in zip(self._png, self.figures)]
        return list(self._png)
