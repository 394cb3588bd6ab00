"""Sliders for the chapters' static sweeps: move γ and λ and re-measure A2C's estimator against the truth.

Chapter 05 sweeps λ and γ in fixed grids; :func:`gae_explorer` lets the reader
pick any (γ, λ) and measures the A2C estimator there, on the tiny problem,
against the exact undiscounted ∇J — the same yardstick as the chapter's plots
(bias with its noise floor, variance, cosine). Each move costs ``n_batches``
batch gradients (about a second at the default). Callbacks run in the kernel's
main thread and only set an HTML widget's value.
"""
from __future__ import annotations

import html

import ipywidgets as w

from ..gradients import Estimator, batch_gradients, report


def measure_gae(problem, gamma: float, gae_lambda: float, *, n_batches: int = 100, batch_size: int = 16,
                seed: int = 0):
    """The A2C estimator (GAE(λ) with the problem's critic) at (γ, λ), reported against the exact ∇J."""
    est = Estimator(returns="gae", gamma=gamma, gae_lambda=gae_lambda)
    grads = batch_gradients(problem.policy, problem.task, est, batch_size=batch_size, n_batches=n_batches, seed=seed)
    return report(f"GAE γ={gamma:g} λ={gae_lambda:g}", grads, problem.gradient()[1])


def gae_explorer(problem, *, n_batches: int = 100, batch_size: int = 16) -> w.VBox:
    """γ and λ sliders; each change re-measures bias, variance and cosine to ∇J (a table row per setting)."""
    slider = dict(min=0.0, max=1.0, step=0.05, continuous_update=False, style={"description_width": "80px"})
    gamma = w.FloatSlider(value=1.0, description="γ (discount)", **slider)
    lam = w.FloatSlider(value=0.9, description="λ (GAE)", **slider)
    table = w.HTML()
    rows: list[str] = []

    def update(_=None) -> None:
        r = measure_gae(problem, gamma.value, lam.value, n_batches=n_batches, batch_size=batch_size)
        rows.insert(0, f"<tr><td>{gamma.value:.2f}</td><td>{lam.value:.2f}</td><td>{r.bias:.4f} ± {r.bias_se:.4f}</td>"
                       f"<td>{r.noise_floor:.4f}</td><td>{r.variance:.4g}</td><td>{r.cosine:.3f}</td></tr>")
        head = ("<tr><th>γ</th><th>λ</th><th>error of the mean vs ∇J</th><th>noise floor</th><th>variance (lower is better)</th>"
                "<th>cosine to ∇J</th></tr>")
        table.value = f"<table>{head}{''.join(rows[:8])}</table>"

    gamma.observe(update, "value")
    lam.observe(update, "value")
    update()
    note = w.HTML(html.escape(f"{n_batches} batches of B = {batch_size} per setting; the newest row is on top."))
    return w.VBox([w.HBox([gamma, lam]), note, table])
