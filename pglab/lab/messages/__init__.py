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


_HAN, _LATIN = "\u3400-\u9fff", "A-Za-z0-9\u0370-\u03ff"
_LATIN_HAN = re.compile(f"(?<=[{_LATIN}])(?=[{_HAN}])|(?<=[{_HAN}])(?=[{_LATIN}])")
_SPACE_QUOTE = re.compile(f"(?<=[{_HAN}]) (?=「)")


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
        text = self.messages[key].format(**fields)
        if self.lang == "zh" and fields:                    # where a field meets the text around it:
            text = _LATIN_HAN.sub(" ", text)                # 折扣因子 γ 只接受 (a space between Latin and Han),
            text = _SPACE_QUOTE.sub("", text)               # 收到「5」 (none before a corner quote)
        return text

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

    def quote(self, text: str) -> str:
        """A value as typed, quoted the way this language quotes: ``'5'`` in English, 「5」 in Chinese."""
        return repr(text) if self.lang == "en" else f"「{text}」"

    def join(self, items) -> str:
        """A list in running text: ``a, b`` in English, ``a、b`` in Chinese."""
        return ("、" if self.lang == "zh" else ", ").join(str(i) for i in items)

    def option(self, field: str, key: str) -> str:
        """A choice named in an error that Python raised: its name on the page, with the key one types in Python
        when the two differ (复制（copy）; a name that ends in a bracket takes the key inside it:
        复制（稀疏奖励；copy-sparse）)."""
        label = self.name(key) if field in ("contender", "contenders") else self.messages.get(
            f"option.{field}.{key}", key)
        if label == key:
            return key
        return f"{label[:-1]}；{key}）" if label.endswith("）") else f"{label}（{key}）"

    def error(self, err: object) -> str:
        """An error raised below the page, in this language (see the module docstring)."""
        text = str(err)
        if self.lang == "en" or isinstance(err, Localized):
            return text
        found = match_check(text)
        if found is None:
            return self("error.untranslated", text=text)
        key, fields = found
        found_field = fields.get("field", "")
        if "field" in fields:
            fields["field"] = self.field(fields["field"])
        if "contender" in fields:
            fields["contender"] = self.name(fields["contender"])
        if key == "check.contenders_empty":                 # the names to tick, as the page shows them
            fields["known"] = self.join(self.name(n) for n in fields["known"].split(", "))
        elif key == "check.contenders_string":              # raised in Python only: the names one types there
            fields["known"] = self.join(self.option("contender", n) for n in fields["known"].split(", "))
        elif key == "check.unknown":                        # "'copy', 'reverse'": the page's names, keys kept
            keys = re.findall(r"'((?:[^'\\]|\\.)*)'", fields["known"])
            if keys:
                fields["known"] = self.join(self.option(found_field, k) for k in keys)
        if key != "check.contenders_string":                # there the value stands inside a Python list
            quoted = re.fullmatch(r"'((?:[^'\\]|\\.)*)'", fields.get("value", ""))
            if quoted:
                fields["value"] = self.quote(quoted.group(1))
        return self(key, **fields)


def catalogue(lang: str = "en") -> Catalogue:
    """The messages of ``lang`` (one of :data:`LANGS`); anything else is a ``ValueError`` naming the choices."""
    return Catalogue(lang)
