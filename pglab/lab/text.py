"""The live lab's text: the readout and the samples as HTML, from a race (no widgets)."""
from __future__ import annotations

import html

from matplotlib.colors import to_hex

from .plots import color
from .race import Race


def readout_html(race: Race) -> str:
    """The headline: each contender's estimator against vanilla REINFORCE's at the same θ, or why not."""
    if not race.points:
        return "<i>The first meter point comes with the first update.</i>"
    p = race.points[-1]
    critic = "" if p.critic_fit is None else f"; the critic was refitted to θ (explained variance {p.critic_fit:.2f})"
    head = (f"<div style='font-size:14px'><b>At the same policy θ</b> ({html.escape(p.reference)}'s, meter at step "
            f"{p.step}): variance of one batch gradient vs vanilla REINFORCE's, {race.config.meter_batches} held-out "
            f"batches per estimator, 95 % bootstrap intervals{critic}.</div>")
    rows = []
    for v in race.verdicts():
        style = {"collapsed": "color:#c0392b", "higher": "color:#9a6700"}.get(v.kind, "")
        swatch = f"<span style='color:{_css(color(v.name))}'>■</span>"
        rows.append(f"<li style='{style}'>{swatch} <b>{html.escape(v.name)}</b>: {html.escape(v.text)}</li>")
    if len(race.config.contenders) == 1 and race.config.contenders[0] == "REINFORCE":
        rows.append("<li><i>Tick another contender to compare its estimator with vanilla REINFORCE's.</i></li>")
    return head + "<ul style='margin:2px 0;font-size:14px'>" + "".join(rows) + "</ul>"


CELL = "padding:2px 12px 2px 0;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"
"""Every samples cell has its own padding and rule: a notebook's CSS may zero a table's spacing."""


def samples_html(race: Race) -> str:
    """A small table per contender: prompt | target | completion | reward, visibly separated."""
    out = ["<div style='font-size:13px'><i>samples from a fixed stream (seed 0 of each contender)</i>"]
    head = "".join(f"<th style='{CELL}'>{h}</th>" for h in ("prompt", "target", "completion", "reward"))
    for name, rows in race.samples().items():
        cells = "".join("<tr>" + "".join(f"<td style='{CELL}'><code>{html.escape(r[k])}</code></td>"
                                          for k in ("prompt", "target", "completion"))
                        + f"<td style='{CELL}'>{r['reward']}</td></tr>" for r in rows)
        out.append(f"<div><b style='color:{_css(color(name))}'>{html.escape(name)}</b>"
                   f"<table style='font-size:13px;border-collapse:collapse;margin:2px 0 8px'><tr>{head}</tr>{cells}"
                   "</table></div>")
    return "".join(out) + "</div>"


def _css(mpl_color: str) -> str:
    return to_hex(mpl_color)
