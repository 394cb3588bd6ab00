"""The policy contract: what every function in pglab that takes a policy relies on.

pglab's own :class:`~pglab.policies.Policy` (GRU, LSTM, Transformer) and the
Hugging Face adapter :func:`pglab.hf.policy` both satisfy :class:`PolicyProtocol`,
so ``train()``, every algorithm, ``gradients``, the meter and ``exact`` accept
either. A policy is an ``nn.Module`` that offers

* **incremental sampling** — ``prefill(prompt_ids) -> (logits (B, V), state)`` reads
  the prompts; ``step(token (B,), state) -> (logits (B, V), state)`` appends one token
  per row. The state (an RNN's hidden state, a KV cache) is the policy's business: the
  sampler only passes it back, and may not reuse an old one (a cache may be updated in place).
  The logits returned are the caller's: the sampler scales them in place.
* **teacher-forced evaluation** — ``forward(ids) -> logits (B, L, V)`` where position i
  scores token i+1; ``evaluate(ids, start) -> (logits (B, L-start, V), values (B, L-start) | None)``;
  ``values(ids) -> (B, L)`` with a value head.
* **where and how big** — ``device``, ``vocab_size`` (the width of the logits).
* **its own special tokens** — ``eos_id`` ends a completion (a real action with a real
  log-prob), ``pad_id`` fills positions after it and left-pads prompts. pglab's vocabulary
  fixes them at 2 and 0 (:mod:`pglab.vocab`); a foreign tokenizer has its own, and the
  sampler, the completion mask and the enumeration in :mod:`pglab.exact` read them from
  the policy (:func:`eos_id`, :func:`pad_id`) rather than from the global constants.
* **which parameters are whose** — ``has_value``, ``actor_parameters()`` (θ, what ∇J is
  taken with respect to) and ``critic_parameters()`` (only the value estimate uses them);
  ``set_fused(flag)`` may switch to vmappable kernels (a no-op where there are none).
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

from ..vocab import EOS_ID, PAD_ID


@runtime_checkable
class PolicyProtocol(Protocol):
    """A token policy π_θ(a_t | s_t) as pglab uses it (see the module docstring)."""

    @property
    def device(self) -> torch.device: ...

    @property
    def vocab_size(self) -> int: ...

    @property
    def eos_id(self) -> int: ...

    @property
    def pad_id(self) -> int: ...

    @property
    def has_value(self) -> bool: ...

    def forward(self, ids: torch.Tensor) -> torch.Tensor: ...

    def evaluate(self, ids: torch.Tensor, start: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def values(self, ids: torch.Tensor) -> torch.Tensor: ...

    def prefill(self, prompt_ids: torch.Tensor) -> tuple[torch.Tensor, Any]: ...

    def step(self, token: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]: ...

    def actor_parameters(self) -> dict[str, torch.nn.Parameter]: ...

    def critic_parameters(self) -> dict[str, torch.nn.Parameter]: ...

    def set_fused(self, fused: bool) -> None: ...


def eos_id(policy: object) -> int:
    """The policy's end-of-completion id; pglab's vocabulary's :data:`~pglab.vocab.EOS_ID` if it names none."""
    value = getattr(policy, "eos_id", None)
    return EOS_ID if value is None else int(value)


def pad_id(policy: object) -> int:
    """The policy's padding id; pglab's vocabulary's :data:`~pglab.vocab.PAD_ID` if it names none."""
    value = getattr(policy, "pad_id", None)
    return PAD_ID if value is None else int(value)


class ActorCriticSplit:
    """The actor/critic split of a policy's parameters, shared by pglab's policies and the HF adapter.

    θ (the actor) is every parameter whose name does not start with one of ``critic_prefixes``;
    those (a separate critic trunk or model, the value head) only the value estimate uses, so
    ∇J is taken with respect to :meth:`actor_parameters` alone. A value head on a shared trunk
    counts as critic; the shared trunk itself belongs to the actor.
    """
    critic_prefixes: tuple[str, ...] = ()

    @property
    def has_value(self) -> bool:
        return self.v_head is not None

    def actor_parameters(self) -> dict[str, torch.nn.Parameter]:
        """The policy's own parameters θ: all but a separate critic and the value head."""
        return {n: p for n, p in self.named_parameters() if not n.startswith(self.critic_prefixes)}

    def critic_parameters(self) -> dict[str, torch.nn.Parameter]:
        """Parameters that only the value estimate uses (a shared trunk belongs to the actor)."""
        return {n: p for n, p in self.named_parameters() if n.startswith(self.critic_prefixes)}
