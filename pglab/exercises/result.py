"""What a check found, and how it reads: :class:`CheckResult`, the one answer every question type returns.

A check never raises for the student's bug; it returns a result with a ``status`` — ``'passed'``,
``'not implemented'`` (still the stub), ``'failed'`` (a wrong answer: the input, expected vs got, the
problem in one line and the hint) or ``'error'`` (the student's code raised: its one-line message and the
input). ``str(result)`` is the feedback the student reads; in a notebook it shows in colour (``_repr_html_``).
A hint that comes from a symptom which may explain only part of the difference is introduced as "one
problem (maybe not the only one)" (``partial``): a second mistake may be hiding behind the first.

This is the bottom of the exercises package: the question types (:mod:`.function`, :mod:`.choice`,
:mod:`.order`) build these results, the otter glue (:mod:`.otter_glue`) turns them into the message of a
failing test.

>>> print(CheckResult("ch00_pick", "failed", got="C", expected="(not shown)", problem="C is not right",
...                   hint_key="choice_C", hint="measure it"))
❌ ch00_pick: wrong answer
  expected: (not shown)
  got:      C
  problem:  C is not right
  hint:     measure it
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from .compare import _block, _fmt, _indent

DIFFICULTIES = ("easy", "medium", "hard")
NO_MATCH_HINT = ("none of the usual mistakes explains this output: compare expected and got entry by entry "
                 "on this small input, working it out by hand.")


@dataclass
class CheckResult:
    """What :func:`check` found. ``status`` is one of 'passed', 'not implemented', 'failed', 'error'."""
    name: str
    status: str
    message: str = ""
    case: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    expected: Any = None
    got: Any = None
    problem: str = ""
    hint_key: str | None = None
    hint: str = ""
    cases_run: int = 0
    partial: bool = False
    """The hint comes from a symptom that may explain only part of the difference (a second mistake is possible)."""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.status == "passed":
            return f"✅ {self.name}: passed on all {self.cases_run} random inputs."
        if self.status == "not implemented":
            return f"⏳ {self.name}: not yet implemented — {self.message}"
        if self.status == "failed" and not self.case and not self.inputs and self.got is None:
            lines = [f"❌ {self.name}: {self.problem}"]          # no input to show: the signature, not a function
        else:
            what = "wrong answer" if self.status == "failed" else "your code raised an error"
            lines = [f"❌ {self.name}: {what}" + (f" on input {self.case}" if self.case else "")]
        if self.case or self.inputs or self.got is not None or self.status == "error":
            for k, v in self.inputs.items():
                lines.append(f"    {k} = {_indent(_fmt(v), ' ' * (7 + len(k)))}")
            if self.status == "error":
                lines.append(f"  error:    {self.message}")
            else:
                lines.extend(_block("expected:", self.expected))
                lines.extend(_block("got:", self.got))
                lines.append(f"  problem:  {self.problem}")
        if self.hint:
            lines.append(f"  hint:     " + ("one problem (maybe not the only one): " if self.partial else "")
                         + self.hint)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        color = {"passed": "#1a7f37", "not implemented": "#9a6700"}.get(self.status, "#cf222e")
        return f"<pre style='color:{color}; white-space:pre-wrap'>{html.escape(str(self))}</pre>"

