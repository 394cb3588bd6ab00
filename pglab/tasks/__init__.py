"""Tasks by name. ``make_task("copy")`` is the default: fast to learn, dense reward.

| name | prompt → completion | reward |
|---|---|---|
| ``copy`` / ``copy-sparse`` | ``<bos> c a b =`` → ``c a b`` | per-token match (dense) or its sum at the end (sparse) |
| ``reverse`` / ``reverse-sparse`` | ``<bos> c a b =`` → ``b a c`` | same |
| ``translate`` / ``translate-chrf`` | toy English → toy target language | sentence BLEU / chrF (sacrebleu) |
| ``dialogue`` | ``<bos> i like a cat =`` → ``why do you like a cat`` | sentence chrF (sacrebleu) |
| ``fluency`` | ``<bos> the`` → rest of a sentence | log-likelihood under a frozen reference LM |
"""
from __future__ import annotations

from collections.abc import Callable

from .. import checks
from .base import FixedPrompts, RewardSum, Task, at_last_token
from .dialogue import DialogueTask
from .fluency import FluencyTask
from .pairs import PairTask
from .target import TargetTask
from .translation import TranslationTask

TASKS: dict[str, Callable[..., Task]] = {
    "copy": lambda **kw: TargetTask("copy", **kw),
    "copy-sparse": lambda **kw: TargetTask("copy", reward="sparse", **kw),
    "reverse": lambda **kw: TargetTask("reverse", **kw),
    "reverse-sparse": lambda **kw: TargetTask("reverse", reward="sparse", **kw),
    "translate": lambda **kw: TranslationTask(metric="bleu", **kw),
    "translate-chrf": lambda **kw: TranslationTask(metric="chrf", **kw),
    "dialogue": lambda **kw: DialogueTask(**kw),
    "fluency": lambda **kw: FluencyTask(**kw),
}
DEFAULT_TASK = "copy"


def make_task(name: str = DEFAULT_TASK, **kwargs) -> Task:
    """Build a task by name; keyword arguments go to its constructor."""
    return TASKS[checks.choice("task", name, list(TASKS))](**kwargs)


__all__ = ["TASKS", "DEFAULT_TASK", "make_task", "Task", "FixedPrompts", "RewardSum", "at_last_token",
           "TargetTask", "TranslationTask", "PairTask", "DialogueTask", "FluencyTask"]
