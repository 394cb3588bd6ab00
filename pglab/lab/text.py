"""The live lab's text: the readout and the samples as HTML, from a race (no widgets), in a catalogue's words."""
from __future__ import annotations

import html

from matplotlib.colors import to_hex

from .messages import Catalogue
from .meter import Verdict
from .plots import color
from .race import Race

EN = Catalogue("en")


def verdict_text(v: Verdict, t: Catalogue = EN) -> str:
    """One readout line in ``t``'s language (a contender named inside it is named in that language too)."""
    fields = dict(v.fields)
    if "reference" in fields:
        fields["reference"] = t.name(fields["reference"])
    return t(v.key, **fields)


def readout_html(race: Race, t: Catalogue = EN) -> str:
    """The headline: each contender's estimator against vanilla REINFORCE's at the same θ, or why not."""
    if not race.points:
        return f"<i>{html.escape(t('readout.first'))}</i>"
    p = race.points[-1]
    critic = "" if p.critic_fit is None else t("readout.critic", fit=p.critic_fit)
    where = t("readout.where", reference=t.name(p.reference), step=p.step, batches=race.config.meter_batches,
              critic=critic)
    head = (f"<div style='font-size:14px'><b>{html.escape(t('readout.head'))}</b>"
            f"{html.escape(where, quote=False)}</div>")
    rows = []
    for v in race.verdicts():
        style = {"collapsed": "color:#c0392b", "higher": "color:#9a6700"}.get(v.kind, "")
        swatch = f"<span style='color:{_css(color(v.name))}'>■</span>"
        rows.append(f"<li style='{style}'>{swatch} <b>{html.escape(t.name(v.name))}</b>"
                    f"{html.escape(t('verdict.separator'))}{html.escape(verdict_text(v, t))}</li>")
    if len(race.config.contenders) == 1 and race.config.contenders[0] == "REINFORCE":
        rows.append(f"<li><i>{html.escape(t('readout.tick'))}</i></li>")
    return head + "<ul style='margin:2px 0;font-size:14px'>" + "".join(rows) + "</ul>"


CELL = "padding:2px 12px 2px 0;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"
"""Every samples cell has its own padding and rule: a notebook's CSS may zero a table's spacing."""


def samples_html(race: Race, t: Catalogue = EN) -> str:
    """A small table per contender: prompt | target | completion | reward, visibly separated."""
    out = [f"<div style='font-size:13px'><i>{html.escape(t('samples.note'))}</i>"]
    head = "".join(f"<th style='{CELL}'>{html.escape(t(f'samples.{h}'))}</th>"
                   for h in ("prompt", "target", "completion", "reward"))
    for name, rows in race.samples().items():
        cells = "".join("<tr>" + "".join(f"<td style='{CELL}'><code>{html.escape(r[k])}</code></td>"
                                          for k in ("prompt", "target", "completion"))
                        + f"<td style='{CELL}'>{r['reward']}</td></tr>" for r in rows)
        out.append(f"<div><b style='color:{_css(color(name))}'>{html.escape(t.name(name))}</b>"
                   f"<table style='font-size:13px;border-collapse:collapse;margin:2px 0 8px'><tr>{head}</tr>{cells}"
                   "</table></div>")
    return "".join(out) + "</div>"


def _css(mpl_color: str) -> str:
    return to_hex(mpl_color)
