"""Matplotlib figures built from Histories: stateless, object API, Agg canvas.

Figures are created with :class:`matplotlib.figure.Figure` (never ``pyplot``),
so they are safe to render from a worker thread and never open a window.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .train import History


def smooth(values: list[float], window: int) -> np.ndarray:
    """Trailing moving average (the first points average over what exists so far)."""
    x = np.asarray(values, dtype=float)
    if window <= 1 or len(x) == 0:
        return x
    c = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def reward_curves(histories: Mapping[str, History], *, key: str = "reward/mean", window: int = 10,
                  title: str = "Mean episode reward", ylabel: str = "reward per completion") -> Figure:
    """One line per run: the raw statistic (faint) and its moving average."""
    fig, (ax,) = _figure()
    for i, (name, history) in enumerate(histories.items()):
        y = history[key]
        color = f"C{i}"
        ax.plot(y, color=color, alpha=0.25, linewidth=1)
        ax.plot(smooth(y, window), color=color, linewidth=2, label=f"{name} ({window}-step mean)")
    ax.set(xlabel="update step", ylabel=ylabel, title=title)
    ax.legend(loc="lower right")
    return fig


def _figure(ncols: int = 1, width: float = 7.0, height: float = 4.0):
    fig = Figure(figsize=(width, height), layout="constrained", facecolor="white")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    for ax in axes:
        ax.grid(alpha=0.3)
    return fig, axes


def curves_with_band(runs: Mapping[str, Sequence[History]], *, key: str = "reward/mean", window: int = 10,
                     title: str = "Mean episode reward over seeds",
                     ylabel: str = "reward per completion") -> Figure:
    """Mean over seeds (smoothed) with a band of ±1 standard deviation across seeds."""
    fig, (ax,) = _figure()
    for i, (name, histories) in enumerate(runs.items()):
        n = min(len(h) for h in histories)
        ys = np.stack([smooth(h[key][:n], window) for h in histories])     # (seeds, steps)
        mean, std = ys.mean(0), ys.std(0)
        ax.plot(mean, color=f"C{i}", linewidth=2, label=f"{name} (mean of {len(histories)} seeds)")
        ax.fill_between(np.arange(n), mean - std, mean + std, color=f"C{i}", alpha=0.2)
    ax.set(xlabel="update step", ylabel=ylabel, title=title)
    ax.legend(loc="lower right")
    return fig


def estimator_bars(reports: Sequence, title: str = "Gradient estimators against the exact gradient") -> Figure:
    """Total variance (log scale) and cosine to ∇J per estimator, with standard errors."""
    fig, (ax_v, ax_c) = _figure(2, width=11, height=4.2)
    names = [r.name for r in reports]
    y = np.arange(len(names))
    ax_v.barh(y, [r.variance for r in reports], xerr=[r.variance_se for r in reports], color="C0")
    ax_v.set(xscale="log", xlabel="total variance of one batch gradient, tr Cov[ĝ]", title="variance (lower is better)")
    ax_c.barh(y, [r.cosine for r in reports], xerr=[r.cosine_se for r in reports], color="C2")
    ax_c.set(xlabel="mean cos(ĝ, ∇J) over batches", xlim=(0, 1), title="alignment (higher is better)")
    for ax in (ax_v, ax_c):
        ax.set_yticks(y, names)
        ax.invert_yaxis()
    ax_c.tick_params(labelleft=False)
    fig.suptitle(title)
    return fig


def sweep(x: Sequence[float], series: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, xlabel: str,
          ylabel: str, title: str, logy: bool = False) -> Figure:
    """Lines with error bars: ``series[name] = (values, standard_errors)`` over ``x``."""
    fig, (ax,) = _figure()
    for i, (name, (values, errors)) in enumerate(series.items()):
        ax.errorbar(x, values, yerr=errors, marker="o", capsize=3, color=f"C{i}", label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, yscale="log" if logy else "linear")
    ax.legend()
    return fig


class RacePlot:
    """The live lab's three panels — reward (mean over seeds, ±1 std band), gradient variance
    (log scale) and gradient SNR — kept as one figure whose lines are updated in place, so a
    refresh costs one Agg draw (about 0.1 s) instead of building a new figure."""

    def __init__(self, width: float = 10.5, height: float = 3.3) -> None:
        self.figure = Figure(figsize=(width, height), facecolor="white")
        FigureCanvasAgg(self.figure)
        self.axes = [self.figure.add_subplot(1, 3, i + 1) for i in range(3)]
        ax_r, ax_v, ax_s = self.axes
        ax_r.set(xlabel="update step", ylabel="mean reward per completion", title="Reward")
        ax_v.set(xlabel="update step", ylabel="tr Cov[ĝ]", title="Gradient variance (log scale)", yscale="log")
        ax_s.set(xlabel="update step", ylabel="‖E ĝ‖² / tr Cov[ĝ]", title="Gradient signal-to-noise")
        for ax in self.axes:
            ax.grid(alpha=0.3)
        self.figure.subplots_adjust(left=0.07, right=0.99, bottom=0.16, top=0.9, wspace=0.38)
        self.lines: dict[str, dict] = {}

    def _lines(self, name: str) -> dict:
        if name not in self.lines:
            color = f"C{len(self.lines)}"
            ax_r, ax_v, ax_s = self.axes
            self.lines[name] = {"reward": ax_r.plot([], [], color=color, linewidth=2, label=name)[0],
                                "variance": ax_v.plot([], [], "o-", color=color, markersize=3)[0],
                                "snr": ax_s.plot([], [], "o-", color=color, markersize=3)[0],
                                "band": None, "color": color}
            ax_r.legend(loc="lower right", fontsize="small")
        return self.lines[name]

    def update(self, histories: Mapping[str, Sequence[History]], meter: Mapping[str, Sequence[tuple]],
               window: int = 10) -> "RacePlot":
        for name, runs in histories.items():
            lines = self._lines(name)
            n = min((len(h) for h in runs), default=0)
            if n:
                ys = np.stack([smooth(h["reward/mean"][:n], window) for h in runs])
                mean, std = ys.mean(0), ys.std(0)
                lines["reward"].set_data(np.arange(n), mean)
                if lines["band"] is not None:
                    lines["band"].remove()
                lines["band"] = (self.axes[0].fill_between(np.arange(n), mean - std, mean + std,
                                                           color=lines["color"], alpha=0.2) if len(runs) > 1 else None)
            points = list(meter.get(name, []))
            if points:
                steps, variance, snr = zip(*points)
                lines["variance"].set_data(steps, variance)
                lines["snr"].set_data(steps, snr)
        for ax in self.axes:
            ax.relim()
            ax.autoscale_view()
        return self


def race_figure(histories: Mapping[str, Sequence[History]], meter: Mapping[str, Sequence[tuple]],
                window: int = 10) -> Figure:
    """A one-off :class:`RacePlot` figure (e.g. for a notebook cell)."""
    return RacePlot().update(histories, meter, window).figure


def to_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render a figure to PNG bytes (white background), e.g. for an ipywidgets ``Image``."""
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def show(fig: Figure):
    """Display a figure in a notebook as a PNG (works the same in every theme and in Voilà)."""
    from IPython.display import Image
    return Image(to_png(fig))


def save(fig: Figure, path: str | Path, dpi: int = 120) -> None:
    """Write a figure to PNG with an opaque white background (readable in dark themes too)."""
    fig.savefig(path, dpi=dpi, facecolor="white")


def curves_per_seed(runs: Mapping[str, Sequence[History]], *, key: str = "reward/mean", window: int = 10,
                    title: str = "Mean episode reward, every seed",
                    ylabel: str = "reward per completion") -> Figure:
    """One panel per contender: every seed as a thin line (smoothed) and their mean as a thick one.

    The panels share both axes, so contenders compare at a glance and no seed hides in a band.
    """
    fig, axes = _figure(len(runs), width=3.2 * len(runs) + 1.0, height=3.6)
    for i, (ax, (name, histories)) in enumerate(zip(axes, runs.items())):
        n = min(len(h) for h in histories)
        ys = np.stack([smooth(h[key][:n], window) for h in histories])     # (seeds, steps)
        for y in ys:
            ax.plot(y, color=f"C{i}", linewidth=0.8, alpha=0.45)
        ax.plot(ys.mean(0), color=f"C{i}", linewidth=2.2, label=f"mean of {len(histories)} seeds")
        ax.set(xlabel="update step", title=name)
        ax.title.set_fontsize("medium")
        ax.legend(loc="lower right", fontsize="small")
    for ax in axes[1:]:
        ax.sharey(axes[0])
        ax.tick_params(labelleft=False)
    axes[0].set_ylabel(ylabel)
    fig.suptitle(title)
    return fig


def estimator_points(reports: Sequence, *, rescaled: Sequence[str] = (),
                     title: str = "Gradient estimators against the exact gradient") -> Figure:
    """Variance, SNR and cosine per estimator as points with ±1 standard-error bars (linear axes).

    Estimators named in ``rescaled`` (e.g. GRPO's group normalisation, which multiplies every
    advantage by 1/std) have a variance on another scale: they are left out of the variance
    panel and their value is written under it; SNR and cosine are scale-free and show everyone.
    """
    fig, axes = _figure(3, width=12, height=1.4 + 0.42 * len(reports))
    y = np.arange(len(reports))
    kept = [i for i, r in enumerate(reports) if r.name not in rescaled]
    panels = [("variance", "tr Cov[ĝ] (lower is better)", kept),
              ("snr", "SNR ‖E ĝ‖² / tr Cov[ĝ] (higher is better)", range(len(reports))),
              ("cosine", "mean cos(ĝ, ∇J) (higher is better)", range(len(reports)))]
    for ax, (key, label, rows) in zip(axes, panels):
        rows = list(rows)
        ax.errorbar([getattr(reports[i], key) for i in rows], y[rows],
                    xerr=[getattr(reports[i], f"{key}_se") for i in rows], fmt="o", capsize=3, color="C0")
        ax.set_xlabel(label, fontsize="small")
        ax.set_yticks(y, [r.name for r in reports])
        ax.set_ylim(len(reports) - 0.5, -0.5)
    notes = [f"{r.name}: {r.variance:.3g} ± {r.variance_se:.1g} (rescaled, not shown)"
             for r in reports if r.name in rescaled]
    if notes:
        axes[0].set_title("\n".join(notes), fontsize="small", loc="left")
    for ax in axes[1:]:
        ax.tick_params(labelleft=False)
    fig.suptitle(title)
    return fig


def seed_lines(x: Sequence[float], runs: Mapping[str, Sequence[Sequence[float]]], *, xlabel: str, ylabel: str,
               title: str) -> Figure:
    """One faint line per seed and the mean over seeds in bold, per method (e.g. test BLEU over updates)."""
    fig, (ax,) = _figure()
    for i, (name, seeds) in enumerate(runs.items()):
        ys = np.asarray(seeds, dtype=float)                                  # (seeds, len(x))
        for y in ys:
            ax.plot(x, y, color=f"C{i}", alpha=0.35, linewidth=1)
        ax.plot(x, ys.mean(0), color=f"C{i}", linewidth=2.5, marker="o", markersize=3,
                label=f"{name} (mean of {len(ys)} seeds)")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(loc="best")
    return fig


def reward_kl(points: Mapping[str, tuple[float, float]], *, frontier: tuple[Sequence[float], Sequence[float]] | None = None,
              title: str, ylabel: str = "mean reward E[R]", xlabel: str = "KL(π ‖ π_ref) per completion (nats)",
              reference: tuple[float, float] | None = None) -> Figure:
    """Reward against KL to the reference: labelled points ``points[label] = (kl, reward)``, when known
    the exact optimal frontier ``(kls, rewards)`` as a line, and the reference policy π_ref (β = ∞)
    ``reference = (kl, reward)`` as its own marker, so the legend never calls it a trained policy."""
    fig, (ax,) = _figure()
    if frontier is not None:
        ax.plot(*frontier, color="C7", linewidth=2, label="exact optimum π* over β")
    kls, rewards = zip(*points.values())
    ax.plot(kls, rewards, "o", color="C3", markersize=7, label="trained policies")
    for label, (kl, reward) in points.items():
        ax.annotate(label, (kl, reward), textcoords="offset points", xytext=(6, -12), fontsize=9)
    if reference is not None:
        ax.plot(*reference, "s", color="C0", markersize=8, label="reference π_ref (β = ∞)")
    ax.margins(x=0.12, y=0.08)                                               # room for the labels
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(loc="lower right")
    return fig


def error_with_floor(x: Sequence[float], series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
                     *, xlabel: str, title: str, ylabel: str = "error of the mean ‖ḡ − ∇J‖") -> Figure:
    """Error of the mean (points, ±1 standard error) with each series' noise floor as a dashed line.

    ``series[name] = (errors, standard_errors, noise_floors)``. A point near its dashed line shows no
    detectable bias; a point well above it shows a bias of about √(error² − floor²).
    """
    fig, (ax,) = _figure()
    for i, (name, (err, se, floor)) in enumerate(series.items()):
        ax.errorbar(x, err, yerr=se, fmt="o-", capsize=3, color=f"C{i}", label=f"{name}: error of the mean")
        ax.plot(x, floor, "--", color=f"C{i}", linewidth=1.2, label=f"{name}: noise floor √(tr Cov/M)")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.set_yscale("log")
    ax.legend(loc="best", fontsize="small")
    return fig


def mean_curves(runs: Mapping[str, Sequence[History]], *, key: str = "reward/mean", window: int = 10,
                title: str = "Mean over seeds ± one standard error",
                ylabel: str = "reward per completion") -> Figure:
    """Every contender's mean over seeds (each seed smoothed over ``window`` updates) with a band of
    ±1 standard error of that mean (std across seeds / √seeds), overlaid on one axis."""
    fig, (ax,) = _figure()
    for i, (name, histories) in enumerate(runs.items()):
        n = min(len(h) for h in histories)
        ys = np.stack([smooth(h[key][:n], window) for h in histories])     # (seeds, steps)
        mean, se = ys.mean(0), ys.std(0, ddof=1) / np.sqrt(len(ys))
        ax.plot(mean, color=f"C{i}", linewidth=2, label=f"{name} ({len(ys)} seeds)")
        ax.fill_between(np.arange(n), mean - se, mean + se, color=f"C{i}", alpha=0.2)
    ax.set(xlabel="update step", ylabel=ylabel, title=title)
    ax.legend(loc="lower right", fontsize="small")
    return fig


def reward_kl_points(points: Mapping[str, tuple[float, float]], *, reference: tuple[float, float],
                     **kwargs) -> Figure:
    """:func:`reward_kl` with the reference policy π_ref (β = ∞, KL 0) drawn as its own marker."""
    return reward_kl(points, reference=reference, **kwargs)
