"""Matplotlib figures built from Histories: stateless, object API, Agg canvas.

Figures are created with :class:`matplotlib.figure.Figure` (never ``pyplot``),
so they are safe to render from a worker thread and never open a window.
"""
from __future__ import annotations

from collections.abc import Mapping
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
    fig = Figure(figsize=(7, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, (name, history) in enumerate(histories.items()):
        y = history[key]
        color = f"C{i}"
        ax.plot(y, color=color, alpha=0.25, linewidth=1)
        ax.plot(smooth(y, window), color=color, linewidth=2, label=f"{name} ({window}-step mean)")
    ax.set_xlabel("update step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def save(fig: Figure, path: str | Path, dpi: int = 120) -> None:
    """Write a figure to PNG with an opaque white background (readable in dark themes too)."""
    fig.savefig(path, dpi=dpi, facecolor="white")
