"""The live lab's words, one catalogue per language: ``catalogue("en")`` and ``catalogue("zh")``.

Every string the page shows — labels, hover help, dropdown entries, buttons, status and message lines, the
readout, the samples' headers, the panels' titles, axes and legends, the contenders' explanations — is looked
up here by key, with ``str.format`` fields for the numbers: ``t("status.step", step=3, steps=100)``. The
English catalogue (:mod:`.en`) reproduces the page as it always read; the Chinese one (:mod:`.zh`) has the same
keys and the same format fields (``tests/test_lab_messages.py`` fails otherwise, and when a Chinese value is
left in English).

**Errors from below the page.** :class:`~pglab.lab.race.RaceConfig` and :mod:`pglab.checks` raise their
``ValueError`` in English, for every caller (scripts, the CLI, the chapters). The page does not re-implement
their rules: it catches the error and *translates it by key* (:meth:`Catalogue.error`). Each ``check.*``
entry of the English catalogue is the exact wording a check raises, with fields where the values go; read as
a pattern it recovers the fields (``{field}`` = the setting's name, ``{value}`` = what was given), and the
Chinese entry of the same key is filled with them — the field named in Chinese *and* by its Python name, the
allowed range unchanged. A test raises each check and asserts that the English entry reproduces the message
exactly, so a rewording in ``pglab.checks`` breaks that test rather than the Chinese page. An error no entry
matches (a failure deep inside training, say) is shown in Chinese words around its English original. The
page's own errors (typed values, the sliders' ranges, unknown settings) are written in the page's language
directly.
"""
from __future__ import annotations

import re
import string

from . import en, zh

CATALOGUES = {"en": en.MESSAGES, "zh": zh.MESSAGES}
"""Language code → {key: message}."""
LANGS = tuple(CATALOGUES)

NAMES_KEPT = frozenset({"REINFORCE", "A2C", "PPO", "RLOO", "GRPO", "Dr. GRPO", "GRU", "LSTM", "Transformer"})
"""The only values a non-English catalogue may leave as in English: algorithm and network names."""


class Localized(ValueError):
    """A ``ValueError`` the page raised already in its own language (:meth:`Catalogue.error` leaves it as is)."""


def check_lang(lang: object) -> str:
    if lang not in CATALOGUES:
        raise ValueError(f"lang must be one of {', '.join(repr(k) for k in LANGS)}, got {lang!r}")
    return lang


def _pattern(template: str) -> re.Pattern:
    """A template read backwards: literal text must match exactly, each ``{field}`` captures what stood there
    (a setting's name is one word; a field used twice must repeat the same text)."""
    out, seen = [], set()
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        out.append(re.escape(literal))
        if name is None:
            continue
        if name in seen:
            out.append(f"(?P={name})")
        else:
            seen.add(name)
            out.append(f"(?P<{name}>[\\w.]+)" if name == "field" else f"(?P<{name}>.+?)")
    return re.compile("".join(out), re.DOTALL)


def _literal(template: str) -> str:
    return "".join(literal for literal, *_ in string.Formatter().parse(template))


CHECKS = sorted((k for k in en.MESSAGES if k.startswith("check.")), key=lambda k: -len(_literal(en.MESSAGES[k])))
"""Keys of the errors raised below the page, most specific (most literal text) first."""
_PATTERNS = {k: _pattern(en.MESSAGES[k]) for k in CHECKS}


def match_check(text: str) -> tuple[str, dict[str, str]] | None:
    """The ``check.*`` key whose English wording ``text`` is, and the fields it carries (None if none is)."""
    for key in CHECKS:
        m = _PATTERNS[key].fullmatch(text)
        if m:
            return key, m.groupdict()
    return None


class Catalogue:
    """One language's messages: ``t(key, **fields)`` formats one; a few helpers name things on the page."""

    def __init__(self, lang: str = "en") -> None:
        self.lang = check_lang(lang)
        self.messages = CATALOGUES[lang]

    def __call__(self, key: str, **fields) -> str:
        return self.messages[key].format(**fields)

    def __repr__(self) -> str:
        return f"Catalogue({self.lang!r}, {len(self.messages)} messages)"

    def name(self, contender: str) -> str:
        """A contender's (or the yardstick's) name on the page."""
        return self.messages.get(f"name.{contender}", contender)

    def short(self, contender: str) -> str:
        """A contender's name in a panel's legend."""
        return self.messages.get(f"short.{contender}", contender)

    def field(self, name: str) -> str:
        """A setting named in an error: its Python name in English; its label and its Python name otherwise."""
        if self.lang == "en":
            return name
        label = self.messages.get(f"field.{name}", self.messages.get(f"label.{name}"))
        return name if label is None else f"{label}（{name}）"

    def error(self, err: object) -> str:
        """An error raised below the page, in this language (see the module docstring)."""
        text = str(err)
        if self.lang == "en" or isinstance(err, Localized):
            return text
        found = match_check(text)
        if found is None:
            return self("error.untranslated", text=text)
        key, fields = found
        if "field" in fields:
            fields["field"] = self.field(fields["field"])
        if "contender" in fields:
            fields["contender"] = self.name(fields["contender"])
        if key == "check.contenders_empty":                 # the names to tick, as the page shows them
            fields["known"] = "、".join(self.name(n) for n in fields["known"].split(", "))
        return self(key, **fields)


def catalogue(lang: str = "en") -> Catalogue:
    """The messages of ``lang`` (one of :data:`LANGS`); anything else is a ``ValueError`` naming the choices."""
    return Catalogue(lang)
