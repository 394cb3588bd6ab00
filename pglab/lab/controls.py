"""The live lab's controls: sliders with a typed-value box each, a one-line explanation per control.

A value is either shown exactly or refused with a message that names the field
and the allowed range — never snapped, clamped or parsed into something else
("1e3" in steps is 1000; "nan" in γ is refused; 30 in batch size is refused
because the slider moves in steps of 8).
"""
from __future__ import annotations

import html
import math

import ipywidgets as w
from traitlets import Unicode

from ..advantages import BASELINES
from ..policies import TRUNKS
from .messages import Catalogue, Localized
from .race import CONTENDERS, RaceConfig
from ..tasks import TASKS


EN = Catalogue("en")

# The sliders' ranges and steps. A value a slider cannot show is refused, never snapped to the grid.
SLIDERS = {"gamma": (0.0, 1.0, 0.01), "gae_lambda": (0.0, 1.0, 0.01), "lr": (1e-5, 1e-1, None),
           "batch_size": (8, 256, 8), "entropy_coef": (0.0, 0.1, 0.005), "steps": (10, 2000, 10), "seeds": (1, 8, 1)}
LABELS = {k: EN(f"label.{k}") for k in ("task", "policy", "baseline", *SLIDERS)}
"""The controls' names in English (the page shows its catalogue's ``label.<key>``)."""
TIPS = {**{k: EN(f"tip.{k}") for k in LABELS}, **{f"race:{c}": EN(f"explain.{c}") for c in CONTENDERS}}
"""The controls' hover help in English (the page shows its catalogue's ``tip.<key>`` / ``explain.<name>``)."""
INTEGER = {"batch_size", "steps", "seeds"}
NARROWER = ("lr", "entropy_coef", "batch_size", "steps")
"""Sliders whose range is narrower than :class:`RaceConfig`'s (lr: [1e-05, 0.1] on the page, (0, 1] in Python).
The page checks their ranges first, so a value outside both is refused with the one range the page can show."""


def tip(key: str, t: Catalogue = EN) -> str:
    """A control's hover help in ``t``'s language (a contender's is its explanation)."""
    return t(f"explain.{key[5:]}") if key.startswith("race:") else t(f"tip.{key}")


def check_controls(settings: dict, t: Catalogue = EN, keys=SLIDERS, grid: bool = True) -> None:
    """Raise ``ValueError`` (in ``t``'s language) for a setting the page's sliders cannot show exactly
    (only those of ``keys``; ``grid=False``: only their ranges, not their steps)."""
    for key, value in settings.items():
        if key not in keys or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue                                          # not a number: RaceConfig names what it must be
        lo, hi, step = SLIDERS[key]
        if not lo <= value <= hi:
            raise Localized(t("lab.range", field=t.field(key), lo=f"{lo:g}", hi=f"{hi:g}", value=repr(value)))
        if grid and step is not None and abs(round((value - lo) / step) * step + lo - value) > 1e-9:
            raise Localized(t("lab.multiple", field=t.field(key), step=f"{step:g}", lo=f"{lo:g}", value=repr(value)))


def parse_typed(key: str, text: str, t: Catalogue = EN) -> float | int:
    """The number typed into ``key``'s box, or ``ValueError`` naming the field and its allowed range."""
    lo, hi, step = SLIDERS[key]
    rng = {"label": t(f"label.{key}"), "lo": f"{lo:g}", "hi": f"{hi:g}"}
    if step == 1:
        allowed = t("typed.allowed_whole", **rng)
    else:
        allowed = t("typed.allowed_step", step=f"{step:g}", **rng) if step else t("typed.allowed", **rng)
    try:
        value = float(text.strip().replace("_", ""))
    except ValueError:
        raise Localized(t("typed.not_number", allowed=allowed, text=t.quote(text))) from None
    if not math.isfinite(value):
        raise Localized(t("typed.got", allowed=allowed, text=t.quote(text)))
    if key in INTEGER:
        if value != int(value):
            raise Localized(t("typed.not_whole", allowed=allowed, text=t.quote(text)))
        value = int(value)
    elif step is not None:
        value = round(value, 10)
    try:
        check_controls({key: value})
    except ValueError:
        raise Localized(t("typed.got", allowed=allowed, text=t.quote(text))) from None
    return value


def fmt(key: str, value: float) -> str:
    """The value in use, as its box shows it: exact up to 6 significant digits (0.00123 stays 0.00123)."""
    if key in INTEGER:
        return str(int(value))
    return f"{value:.6g}"


def label(key: str, t: Catalogue = EN) -> w.HTML:
    """A control's name as a ``<label>`` that carries its hover help (the widget beside it carries it too)."""
    return w.HTML(f"<label title='{html.escape(tip(key, t), quote=True)}' style='display:inline-block;width:100px;"
                  f"font-size:14px'>{html.escape(t(f'label.{key}'))}</label>", layout=w.Layout(width="104px"))


class TipRow(w.HBox):
    """A row whose hover help reaches every part of it, slider handles included.

    The browser side of ipywidgets 8 writes a widget's ``tooltip`` as the row's
    ``title`` only when the widget has a (here empty) ``description``, which boxes
    lack; this trait supplies it. Children without a title of their own inherit it.
    """
    description = Unicode("").tag(sync=True)


def make_controls(cfg: RaceConfig, t: Catalogue = EN) -> dict[str, w.Widget]:
    """The widgets, keyed by RaceConfig field (contender toggles as ``race:<name>``).

    Hover help: ipywidgets 8 puts a widget's ``tooltip`` on the select box or slider
    only when the widget has no ``description`` (otherwise only on its label), and a
    checkbox's title is always its description. So dropdowns and sliders carry no
    description (their names are :func:`label` s beside them, with the same help),
    and contenders are toggle buttons, whose title is their tooltip. Dropdown entries show
    ``t("option.<field>.<key>")`` and keep the key as their value.
    """
    options = lambda field, keys: [k if t(f"option.{field}.{k}") == k else (t(f"option.{field}.{k}"), k)  # noqa: E731
                                   for k in keys]
    lim = {k: dict(min=lo, max=hi, **({} if st is None else {"step": st})) for k, (lo, hi, st) in SLIDERS.items()}
    slider = dict(continuous_update=False, readout=False, layout=w.Layout(width="122px"))
    drop = dict(layout=w.Layout(width="196px"))
    c = {
        "task": w.Dropdown(options=options("task", TASKS), value=cfg.task, **drop),
        "policy": w.Dropdown(options=options("policy", TRUNKS), value=cfg.policy, **drop),
        **{f"race:{n}": w.ToggleButton(value=n in cfg.contenders, description=t.name(n),
                                       layout=w.Layout(width="300px", height="26px")) for n in CONTENDERS},
        "baseline": w.Dropdown(options=options("baseline", [b for b in BASELINES if b != "none"]), value=cfg.baseline,
                               **drop),
        "lr": w.FloatLogSlider(value=cfg.lr, base=10, min=-5, max=-1, step=0.1, **slider),
        **{k: (w.IntSlider if k in INTEGER else w.FloatSlider)(value=getattr(cfg, k), **lim[k], **slider)
           for k in ("gamma", "gae_lambda", "batch_size", "entropy_coef", "steps", "seeds")},
    }
    for key, widget in c.items():
        widget.tooltip = tip(key, t)
        if key.startswith("race:"):
            widget.observe(lambda ch, t=widget: _mark(t), "value")
            _mark(widget)
    return c


def _mark(toggle: w.ToggleButton) -> None:
    """A ticked contender is coloured (a pressed toggle alone is hard to tell from an unpressed one)."""
    toggle.button_style = "info" if toggle.value else ""


def typed_boxes(controls: dict[str, w.Widget], t: Catalogue = EN) -> dict[str, w.Text]:
    """One text box per slider showing its value; what is typed there is parsed by :func:`parse_typed`."""
    return {k: w.Text(value=fmt(k, controls[k].value), continuous_update=False, tooltip=tip(k, t),
                      layout=w.Layout(width="74px")) for k in SLIDERS}
