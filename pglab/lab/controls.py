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
from .race import CONTENDERS, EXPLAIN, RaceConfig
from ..tasks import TASKS


# The sliders' ranges and steps. A value a slider cannot show is refused, never snapped to the grid.
SLIDERS = {"gamma": (0.0, 1.0, 0.01), "gae_lambda": (0.0, 1.0, 0.01), "lr": (1e-5, 1e-1, None),
           "batch_size": (8, 256, 8), "entropy_coef": (0.0, 0.1, 0.005), "steps": (10, 2000, 10), "seeds": (1, 8, 1)}
LABELS = {"task": "task", "policy": "policy", "baseline": "baseline", "gamma": "γ (discount)", "gae_lambda": "λ (GAE)",
          "lr": "learning rate", "batch_size": "batch size", "entropy_coef": "entropy bonus", "steps": "steps",
          "seeds": "seeds"}
TIPS = {
    "task": "what the policy must write; each task scores completions with its own reward",
    "policy": "the network that writes tokens: GRU, LSTM or a small Transformer",
    "baseline": "subtracted from the reward-to-go; affects 'REINFORCE + baseline' only",
    "gamma": "discount γ on future rewards; affects every contender's returns (1 = undiscounted)",
    "gae_lambda": "λ of GAE: 0 trusts the critic (one-step TD), 1 uses Monte Carlo returns; affects A2C and PPO only",
    "lr": "Adam step size for every contender (log scale); too high and policies collapse",
    "batch_size": "completions per update and per meter batch; larger means less gradient noise, slower steps",
    "entropy_coef": "bonus for keeping the policy random; 0 lets policies collapse to one output",
    "steps": "updates per contender (Stop pauses, Train resumes; raise it after a race to continue)",
    "seeds": "independent runs per contender; the reward panel shows their mean ± 1 std",
    **{f"race:{c}": EXPLAIN[c] for c in CONTENDERS},
}
INTEGER = {"batch_size", "steps", "seeds"}


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


def parse_typed(key: str, text: str) -> float | int:
    """The number typed into ``key``'s box, or ``ValueError`` naming the field and its allowed range."""
    lo, hi, step = SLIDERS[key]
    allowed = f"{LABELS[key]} takes a number in [{lo:g}, {hi:g}]" + (f" in steps of {step:g}" if step else "")
    try:
        value = float(text.strip().replace("_", ""))
    except ValueError:
        raise ValueError(f"{allowed}; {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{allowed}; got {text!r}")
    if key in INTEGER:
        if value != int(value):
            raise ValueError(f"{allowed}; {text!r} is not a whole number")
        value = int(value)
    elif step is not None:
        value = round(value, 10)
    try:
        check_controls({key: value})
    except ValueError:
        raise ValueError(f"{allowed}; got {text!r}") from None
    return value


def fmt(key: str, value: float) -> str:
    """The value in use, as its box shows it: exact up to 6 significant digits (0.00123 stays 0.00123)."""
    if key in INTEGER:
        return str(int(value))
    return f"{value:.6g}"


def label(key: str) -> w.HTML:
    """A control's name as a ``<label>`` that carries its hover help (the widget beside it carries it too)."""
    return w.HTML(f"<label title='{html.escape(TIPS[key], quote=True)}' style='display:inline-block;width:100px;"
                  f"font-size:14px'>{html.escape(LABELS[key])}</label>", layout=w.Layout(width="104px"))


class TipRow(w.HBox):
    """A row whose hover help reaches every part of it, slider handles included.

    The browser side of ipywidgets 8 writes a widget's ``tooltip`` as the row's
    ``title`` only when the widget has a (here empty) ``description``, which boxes
    lack; this trait supplies it. Children without a title of their own inherit it.
    """
    description = Unicode("").tag(sync=True)


def make_controls(cfg: RaceConfig) -> dict[str, w.Widget]:
    """The widgets, keyed by RaceConfig field (contender toggles as ``race:<name>``).

    Hover help: ipywidgets 8 puts a widget's ``tooltip`` on the select box or slider
    only when the widget has no ``description`` (otherwise only on its label), and a
    checkbox's title is always its description. So dropdowns and sliders carry no
    description (their names are :func:`label` s beside them, with the same help),
    and contenders are toggle buttons, whose title is their tooltip.
    """
    lim = {k: dict(min=lo, max=hi, **({} if st is None else {"step": st})) for k, (lo, hi, st) in SLIDERS.items()}
    slider = dict(continuous_update=False, readout=False, layout=w.Layout(width="122px"))
    drop = dict(layout=w.Layout(width="196px"))
    c = {
        "task": w.Dropdown(options=list(TASKS), value=cfg.task, **drop),
        "policy": w.Dropdown(options=list(TRUNKS), value=cfg.policy, **drop),
        **{f"race:{n}": w.ToggleButton(value=n in cfg.contenders, description=n,
                                       layout=w.Layout(width="300px", height="26px")) for n in CONTENDERS},
        "baseline": w.Dropdown(options=[b for b in BASELINES if b != "none"], value=cfg.baseline, **drop),
        "lr": w.FloatLogSlider(value=cfg.lr, base=10, min=-5, max=-1, step=0.1, **slider),
        **{k: (w.IntSlider if k in INTEGER else w.FloatSlider)(value=getattr(cfg, k), **lim[k], **slider)
           for k in ("gamma", "gae_lambda", "batch_size", "entropy_coef", "steps", "seeds")},
    }
    for key, widget in c.items():
        widget.tooltip = TIPS[key]
        if key.startswith("race:"):
            widget.observe(lambda ch, t=widget: _mark(t), "value")
            _mark(widget)
    return c


def _mark(toggle: w.ToggleButton) -> None:
    """A ticked contender is coloured (a pressed toggle alone is hard to tell from an unpressed one)."""
    toggle.button_style = "info" if toggle.value else ""


def typed_boxes(controls: dict[str, w.Widget]) -> dict[str, w.Text]:
    """One text box per slider showing its value; what is typed there is parsed by :func:`parse_typed`."""
    return {k: w.Text(value=fmt(k, controls[k].value), continuous_update=False, tooltip=TIPS[k],
                      layout=w.Layout(width="74px")) for k in SLIDERS}
