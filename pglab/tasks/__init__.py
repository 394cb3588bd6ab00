"""Tasks by name. ``make_task("copy")`` is the default: fast to learn, dense reward.

| name | prompt → completion | reward |
|---|---|---|
| ``copy`` / ``copy-sparse`` | ``<bos> c a b =`` → ``c a b`` | per-token match (dense) or its sum at the end (sparse) |
| ``reverse`` / ``reverse-sparse`` | ``<bos> c a b =`` → ``b a c`` | same |
| ``translate`` / ``translate-chrf`` | toy English → toy target language | sentence BLEU / chrF (sacrebleu) |
| ``dialogue`` | ``<bos> i like a cat =`` → ``why do you like a cat`` | sentence chrF (sacrebleu) |
| ``fluency`` | ``<bos> the`` → rest of a sentence | log-likelihood under a frozen reference LM |
| ``arith`` | ``<bos> 1 7 + 2 5 =`` → ``4 2`` | exact match on the decoded answer (+ optional format term) |

Every task takes ``tokenizer=tok`` (e.g. from ``pg.hf.train_tokenizer(task.texts())``): prompts and
completions go through that tokenizer, its EOS ends a completion, and text rewards are computed on
the decoded text, so the same reward code serves both vocabularies (see :mod:`pglab.tasks.text`).
"""
from __future__ import annotations

from collections.abc import Callable

from .. import checks
from .arith import ArithTask
from .base import FixedPrompts, RewardSum, Task, at_last_token
from .dialogue import DialogueTask
from .fluency import FluencyTask
from .pairs import PairTask
from .target import TargetTask
from .translation import TranslationTask

def _fixed(factory: Callable[..., Task], **fixed) -> Callable[..., Task]:
    """A task constructor with some arguments set by the task's name; passing them again is an error."""
    def build(**kwargs) -> Task:
        clash = sorted(set(kwargs) & set(fixed))
        if clash:
            given = ", ".join(f"{k}={kwargs[k]!r}" for k in clash)
            raise ValueError(f"{given}: the task name already sets {', '.join(f'{k}={fixed[k]!r}' for k in clash)}; "
                             "choose the task by name instead (see pglab.tasks.TASKS)")
        return factory(**fixed, **kwargs)
    return build


TASKS: dict[str, Callable[..., Task]] = {
    "copy": _fixed(TargetTask, mode="copy", reward="dense"),
    "copy-sparse": _fixed(TargetTask, mode="copy", reward="sparse"),
    "reverse": _fixed(TargetTask, mode="reverse", reward="dense"),
    "reverse-sparse": _fixed(TargetTask, mode="reverse", reward="sparse"),
    "translate": _fixed(TranslationTask, metric="bleu"),
    "translate-chrf": _fixed(TranslationTask, metric="chrf"),
    "dialogue": _fixed(DialogueTask),
    "fluency": _fixed(FluencyTask),
    "arith": _fixed(ArithTask),
}
DEFAULT_TASK = "copy"


def make_task(name: str = DEFAULT_TASK, **kwargs) -> Task:
    """Build a task by name; keyword arguments go to its constructor (an unknown one is a ValueError)."""
    factory = TASKS[checks.choice("task", name, list(TASKS))]
    try:
        return factory(**kwargs)
    except TypeError as err:
        if "unexpected keyword argument" not in str(err):
            raise
        arg = str(err).split("argument ")[-1]
        raise ValueError(f"make_task({name!r}) does not take {arg}") from None


__all__ = ["TASKS", "DEFAULT_TASK", "make_task", "Task", "FixedPrompts", "RewardSum", "at_last_token",
           "TargetTask", "TranslationTask", "PairTask", "DialogueTask", "FluencyTask", "ArithTask"]
