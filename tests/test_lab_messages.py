"""The live lab's words: one catalogue per language, complete, translated, and the only source of the page's text."""
import html
import re
import string
import warnings

import pytest
import torch

import pglab as pg
from pglab.lab import messages
from pglab.lab.messages import NAMES_KEPT, catalogue, match_check
from pglab.lab.race import RaceConfig

CJK = re.compile(r"[\u3400-\u9fff]")
CJK_PUNCTUATION = re.compile(r"[\s\u3000-\u303f\uff00-\uffef]+")
"""A value that is only Chinese punctuation (the readout's "：") is Chinese too."""
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z_]+")
PAGE_LATIN = {w for name in NAMES_KEPT for w in LATIN_WORD.findall(name)} | {
    "GAE", "TD", "Adam", "BLEU", "chrF", "CPU", "tr", "Cov", "bootstrap"}
"""Latin words the Chinese page may show: algorithm and network names, Adam, TD, the two reward metrics, the CPU,
tr Cov[ĝ] (a formula) and "bootstrap" beside 自助法 (the term readers will meet elsewhere)."""


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def catalogue_problems(en: dict, other: dict) -> list[str]:
    """Everything wrong with ``other`` as a translation of ``en`` (empty: nothing)."""
    problems = [f"missing in translation: {k!r}" for k in en if k not in other]
    problems += [f"not in English: {k!r}" for k in other if k not in en]
    for key in en.keys() & other.keys():
        if _fields(en[key]) != _fields(other[key]):
            problems.append(f"{key!r}: format fields {sorted(_fields(en[key]))} vs {sorted(_fields(other[key]))}")
        if other[key] in NAMES_KEPT:
            continue
        chinese = CJK.search(other[key]) or CJK_PUNCTUATION.fullmatch(other[key])
        if other[key] == en[key] or not chinese:
            problems.append(f"{key!r} left in English: {other[key]!r}")
    return problems


def test_every_english_message_has_a_chinese_one_with_the_same_fields():
    assert catalogue_problems(messages.en.MESSAGES, messages.zh.MESSAGES) == []


def test_the_catalogue_test_fails_when_a_string_is_missing_or_left_in_english():
    en, zh = messages.en.MESSAGES, dict(messages.zh.MESSAGES)
    del zh["status.ready"]
    zh["tip.lr"] = en["tip.lr"]
    zh["status.step"] = "第 {step} 步"
    assert sorted(catalogue_problems(en, zh)) == ["'status.step': format fields ['step', 'steps'] vs ['step']",
                                                  "'tip.lr' left in English: " + repr(en["tip.lr"]),
                                                  "missing in translation: 'status.ready'"]


def test_an_unknown_language_is_refused_by_name():
    with pytest.raises(ValueError, match=r"lang must be one of 'en', 'zh', got 'fr'"):
        pg.app.Lab(lang="fr")


def _nonfinite(loss: float) -> str:
    p = torch.nn.Parameter(torch.zeros(1))
    with pytest.raises(pg.algos.NonFiniteError) as err:
        pg.algos.common.apply_update(torch.optim.SGD([p], lr=0.1), p.sum() * loss, [p], None)
    return str(err.value)


BELOW_THE_PAGE = [                 # (settings, the check.* key their error is worded by)
    ({"gamma": 1.5}, "check.unit_interval"), ({"lr": 5.0}, "check.lr"), ({"entropy_coef": 5.0}, "check.entropy"),
    ({"entropy_coef": -1.0}, "check.non_negative"), ({"steps": 0}, "check.int_min_max"),
    ({"steps": 200_000}, "check.int_range"), ({"seeds": 9}, "check.int_range"), ({"seeds": 0}, "check.int_min"),
    ({"meter_batches": 2}, "check.int_min"), ({"seed": -1}, "check.seed"), ({"task": "poetry"}, "check.unknown"),
    ({"contenders": ("TRPO",)}, "check.unknown"), ({"contenders": "A2C"}, "check.contenders_string"),
    ({"contenders": ()}, "check.contenders_empty"), ({"device": "tpu"}, "check.device"),
    ({"baseline": "leave_one_out", "batch_size": 18}, "check.batch_baseline"),
    ({"contenders": ("PPO",), "batch_size": 18}, "check.batch_ppo"),
    ({"contenders": ("RLOO",), "batch_size": 18}, "check.batch_group"),
]


@pytest.mark.parametrize("settings,key", BELOW_THE_PAGE, ids=[k for _, k in BELOW_THE_PAGE])
def test_errors_from_below_the_page_are_worded_exactly_as_the_catalogue_says(settings, key):
    with pytest.raises(ValueError) as err:
        RaceConfig(**settings)
    text = str(err.value)
    found = match_check(text)
    assert found is not None and found[0] == key, (text, found)
    assert messages.en.MESSAGES[key].format(**found[1]) == text          # the English entry is the exact wording
    assert catalogue("en").error(err.value) == text
    zh = catalogue("zh").error(err.value)
    assert CJK.search(zh) and "英文原文" not in zh, zh
    if "field" in found[1]:                                              # the field by its Chinese and Python names
        assert found[1]["field"] in zh and catalogue("zh").field(found[1]["field"]) in zh, zh


@pytest.mark.parametrize("loss", [float("nan"), float("inf")])
def test_a_failed_update_is_translated_too(loss):
    text = _nonfinite(loss)
    assert match_check(text)[0] == "check.nonfinite_loss", text
    assert catalogue("zh").error(ValueError(text)).startswith("损失为 ")


def test_python_keys_stay_typeable_and_the_lab_speaks_one_lr_range():
    with pytest.raises(ValueError) as err:
        RaceConfig(task="foo")
    assert catalogue("zh").error(err.value).startswith("未知的任务（task）「foo」；可选：复制（copy）、复制（稀疏奖励；copy-sparse）、")
    with pytest.raises(ValueError, match=r"学习率（lr）在实时实验室中须在 \[1e-05, 0.1\] 内，收到 5"):
        pg.app.Lab(lang="zh", lr=5)                       # not RaceConfig's (0, 1]: the page's range, in Chinese
    with pytest.raises(ValueError, match=r"lr must be in \[1e-05, 0.1\] in the live lab, got 5"):
        pg.app.Lab(lr=5)


def test_an_error_no_entry_knows_is_shown_in_chinese_words_around_the_original():
    shown = catalogue("zh").error(RuntimeError("CUDA out of memory"))
    assert shown == "（以下为英文原文）CUDA out of memory"


# ----- the Chinese page: every word it renders comes from the catalogue ------------------------------------------
def _page_text(widget) -> list[str]:
    """Every text a browser would show for the widget tree: descriptions, tooltips, labels, options, HTML (its
    visible text and its title attributes); sample cells (<code>: the task's own data) are left out."""
    out = []
    for w in _walk(widget):
        for attr in ("description", "tooltip", "placeholder"):
            out.append(getattr(w, attr, None) or "")
        out += list(getattr(w, "_options_labels", ()))
        value = getattr(w, "value", None)
        if type(w).__name__ in ("HTML", "Label", "HTMLMath") and isinstance(value, str):
            value = re.sub(r"<style>.*?</style>|<code>.*?</code>", "", value, flags=re.S)
            out += [html.unescape(t) for t in re.findall(r"title='([^']*)'", value)]
            out.append(html.unescape(re.sub(r"<[^>]+>", " ", value)))
    return [s for s in out if s]


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def _english_left(texts) -> set[str]:
    return {w for text in texts for w in LATIN_WORD.findall(text) if w not in PAGE_LATIN}


def _panel_text(lab) -> list[str]:
    texts = []
    for ax in lab._panels.axes:
        texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        legend = ax.get_legend()
        texts += [t.get_text() for t in legend.get_texts()] if legend else []
    return texts


def small(**kw):
    return pg.app.Lab(**{"lang": "zh", "steps": 20, "batch_size": 16, "measure_every": 10, "meter_batches": 8, **kw})


def test_the_chinese_page_renders_no_english_outside_the_names():
    lab = small(contenders=("REINFORCE (reward-to-go)", "A2C"))
    texts = _page_text(lab.widget)
    assert len(texts) > 40 and _english_left(texts) == set(), _english_left(texts)
    assert lab.buttons["Train"].description == "训练" and lab.status.value == "就绪 — 请按「训练」"
    lab.train(block=True)
    texts = _page_text(lab.widget) + _panel_text(lab)
    assert "已完成" in lab.status.value and "在同一策略 θ 下" in lab.readout.value and "奖励（越高越好）" in texts
    assert _english_left(texts) == set(), _english_left(texts)
    shown = []
    for settings in ({"gamma": 1.5}, {"steps": 5000}, {"batch_size": 30}, {"seeds": 9}):
        assert lab.configure(**settings) is False
        shown.append(lab.message.value)
    lab.typed["lr"].value = "abc"
    shown.append(lab.message.value)
    lab.typed["steps"].value = "12.5"
    shown.append(lab.message.value)
    for c in pg.race.CONTENDERS:
        lab.controls[f"race:{c}"].value = False
    assert lab.train() is False
    shown.append(lab.message.value)
    assert all(CJK.search(m) for m in shown), shown
    typed = [re.sub(r"<[^>]+>|「[^」]*」", " ", html.unescape(m)) for m in shown]     # what was typed is quoted
    assert _english_left(typed) <= {"gamma", "batch_size", "seeds", "steps"}, typed   # a field's Python name
    assert "折扣因子 γ（gamma）须在 [0, 1] 内，收到 1.5" in shown[0]
    assert "学习率只接受 [1e-05, 0.1] 内的数；「abc」不是数字" in shown[4] and "「12.5」不是整数" in shown[5]
    assert "训练步数（steps）在实时实验室中须在 [10, 2000] 内，收到 5000" in shown[1]
    assert "请至少选择一个参赛算法" in shown[-1] and "上一场比赛" in shown[-1]


def test_the_english_page_is_unchanged_by_the_catalogue():
    lab = pg.app.Lab(steps=20)
    assert lab.t.lang == "en" and lab.status.value == "ready — press Train"
    assert [b.description for b in lab.buttons.values()] == ["Train", "Stop", "Reset"]
    assert lab.controls["task"].options == tuple(pg.tasks.TASKS)
    assert lab.controls["race:REINFORCE + baseline"].description == "REINFORCE + baseline"
    assert "<h3 style='margin:2px 0'>Why baselines and critics work: gradient variance at the same policy</h3>" in [
        w.value for w in _walk(lab.widget) if type(w).__name__ == "HTML"]


def test_without_a_chinese_font_the_panels_say_so_once_and_keep_english(monkeypatch):
    monkeypatch.setattr(pg.app, "cjk_font", lambda: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                        # no missing-glyph warnings, no other warning
        lab = small(contenders=("REINFORCE",), steps=10)
        lab.train(block=True)
    assert lab.font_missing and any("fonts-noto-cjk" in t for t in _page_text(lab.widget))
    assert "update step" in _panel_text(lab) and not any(CJK.search(t) for t in _panel_text(lab))
    assert "已完成" in lab.status.value                           # the rest of the page stays Chinese
