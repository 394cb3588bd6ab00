"""The live lab's controls: sliders with a typed-value box each, a one-line explanation per control.

A value is either shown exactly or refused with a message that names the field
and the allowed range — never snapped, clamped or parsed into something else
("1e3" in steps is 1000; "nan" in γ is refused; 30 in batch size is refused
because the slider moves in steps of 8).
"""
from __future__ import annotations

import math

import ipywidgets as w

from .advantages import BASELINES
from .policies import TRUNKS
from .race import CONTENDERS, EXPLAIN, RaceConfig
from .tasks import TASKS

STYLE = {"description_width": "104px"}
ROW = w.Layout(width="300px")

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
    if key == "lr":
        return f"{value:.1e}"
    if key in INTEGER:
        return str(int(value))
    return f"{value:g}"


def make_controls(cfg: RaceConfig) -> dict[str, w.Widget]:
    """The widgets, keyed by RaceConfig field (contender checkboxes as ``race:<name>``)."""
    lim = {k: dict(min=lo, max=hi, **({} if st is None else {"step": st})) for k, (lo, hi, st) in SLIDERS.items()}
    slider = dict(continuous_update=False, readout=False, style=STYLE, layout=w.Layout(width="226px"))
    drop = dict(style=STYLE, layout=ROW)
    c = {
        "task": w.Dropdown(options=list(TASKS), value=cfg.task, **drop),
        "policy": w.Dropdown(options=list(TRUNKS), value=cfg.policy, **drop),
        **{f"race:{n}": w.Checkbox(value=n in cfg.contenders, description=n, indent=False,
                                   layout=w.Layout(width="300px", height="24px")) for n in CONTENDERS},
        "baseline": w.Dropdown(options=[b for b in BASELINES if b != "none"], value=cfg.baseline, **drop),
        "lr": w.FloatLogSlider(value=cfg.lr, base=10, min=-5, max=-1, step=0.1, **slider),
        **{k: (w.IntSlider if k in INTEGER else w.FloatSlider)(value=getattr(cfg, k), **lim[k], **slider)
           for k in ("gamma", "gae_lambda", "batch_size", "entropy_coef", "steps", "seeds")},
    }
    for key, widget in c.items():
        if not key.startswith("race:"):
            widget.description = LABELS[key]
        widget.tooltip = TIPS[key]
    return c


def typed_boxes(controls: dict[str, w.Widget]) -> dict[str, w.Text]:
    """One text box per slider showing its value; what is typed there is parsed by :func:`parse_typed`."""
    return {k: w.Text(value=fmt(k, controls[k].value), continuous_update=False, tooltip=TIPS[k],
                      layout=w.Layout(width="74px")) for k in SLIDERS}
