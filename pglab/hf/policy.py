"""A Hugging Face causal language model as a pglab policy.

:func:`policy` wraps any ``AutoModelForCausalLM`` (GPT-2, Llama, Qwen2, … — random
weights from :func:`pglab.hf.tiny_model` or a checkpoint from ``from_pretrained``) in
:class:`HFPolicy`, which meets :class:`~pglab.policies.protocol.PolicyProtocol`: every
algorithm, the sampler, the gradient meter and ``exact`` take it as they take
pglab's own GRU. What the wrapper adds to the model:

* **left padding.** Prompts of different lengths arrive left-padded with the tokenizer's
  pad id. The leading run of pad tokens in each row is masked out of attention, and
  position ids count only real tokens — position_i = (Σ_{j≤i} m_j) − 1 — so a row
  scores the same in a padded batch as alone. (A prompt that *begins* with real pad
  tokens, e.g. GPT-2's ``<|endoftext|>`` used as BOS while pad = EOS, loses them.)
* **a KV cache** through ``past_key_values``: ``prefill`` reads the prompts once and
  ``step`` feeds one token per row, growing the attention mask and the positions.
* **float32 log-softmax** under bf16/fp16 weights (the sampler and ``token_logprobs``
  upcast the logits; the model may run in half precision).
* **an optional value head** V(s) = w·h_L(s) + b on the last hidden state h_L:
  ``"shared"`` on the policy's own trunk, ``"separate"`` on a copy of the model (the
  critic's own trunk, as in :func:`pglab.make_policy`).
* **no dropout**: the log-probs recorded while sampling and those of the update must be of the same
  π_θ, so the wrapped model always runs in eval mode (``policy.train()`` leaves it there).
* **its tokenizer's special ids**: ``eos_id`` (ends a completion) and ``pad_id``
  (the tokenizer's pad token, or EOS when it has none, as GPT-2's has none).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import checks
from ..policies.protocol import ActorCriticSplit

VALUE_HEADS = (None, "shared", "separate")
CRITIC_PREFIXES = ("critic.", "v_head.")


@dataclass
class CacheState:
    """What ``prefill``/``step`` carry: the model's KV cache, the attention mask so far and each row's next position."""
    past: Any                      # transformers Cache (updated in place: never reuse an old state)
    attention_mask: torch.Tensor   # (B, L) 1 = real token, 0 = left padding
    position: torch.Tensor         # (B,) position id of the next token


def prompt_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """1 for every token from the first non-pad one on, 0 for the left padding: (B, L) long.

    >>> prompt_mask(torch.tensor([[0, 0, 5, 6], [4, 0, 5, 6]]), pad_id=0)
    tensor([[0, 0, 1, 1],
            [1, 1, 1, 1]])
    """
    mask = ((ids != pad_id).long().cumsum(1) > 0).long()
    mask[:, -1] = 1                                  # an all-pad row still attends to itself (no NaN)
    return mask


def positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that skip left padding: (Σ_{j≤i} m_j) − 1, clamped at 0 on the padding."""
    return (mask.cumsum(1) - 1).clamp_min(0)


class HFPolicy(ActorCriticSplit, nn.Module):
    """A causal LM, its tokenizer's special ids and an optional value head (see the module docstring)."""
    critic_prefixes = CRITIC_PREFIXES

    def __init__(self, model: nn.Module, tokenizer: Any, value_head: str | None = None) -> None:
        super().__init__()
        checks.choice("value_head", value_head, VALUE_HEADS)
        self.model = model
        self.tokenizer = tokenizer
        self.value_head = value_head
        eos = getattr(tokenizer, "eos_token_id", None)
        if eos is None:
            raise ValueError("the tokenizer has no eos_token_id: set tokenizer.eos_token (it ends every completion)")
        pad = getattr(tokenizer, "pad_token_id", None)
        self.eos_id, self.pad_id = int(eos), int(eos if pad is None else pad)
        n_out = model.get_output_embeddings().weight.shape[0]
        if len(tokenizer) > n_out:
            raise ValueError(f"the tokenizer has {len(tokenizer)} tokens but the model scores only {n_out}; "
                             "resize the model's embeddings (model.resize_token_embeddings(len(tokenizer)))")
        self._vocab_size = int(n_out)
        self.critic = copy.deepcopy(model) if value_head == "separate" else None
        hidden = model.get_output_embeddings().weight.shape[1]
        self.v_head = nn.Linear(hidden, 1) if value_head else None
        if self.v_head is not None:
            ref = next(model.parameters())
            self.v_head.to(device=ref.device, dtype=ref.dtype)
        self.train(False)

    def train(self, mode: bool = True) -> "HFPolicy":
        """Set the mode of the wrapper, but keep the language model(s) in eval mode: no dropout (see above)."""
        super().train(mode)
        for lm in (self.model, self.critic):
            if lm is not None:
                lm.eval()
        return self

    # -- what the protocol asks ---------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def set_fused(self, fused: bool) -> None:
        """Nothing to switch: the per-sample gradients in :mod:`pglab.gradients` loop over an HF model."""

    vmappable = False
    """``torch.func.vmap`` over a transformers model's mask building is not supported; gradients loop instead."""

    def _run(self, model: nn.Module, ids: torch.Tensor, keep: int, hidden: bool):
        mask = prompt_mask(ids, self.pad_id)
        return model(input_ids=ids, attention_mask=mask, position_ids=positions(mask), use_cache=False,
                     logits_to_keep=keep, output_hidden_states=hidden)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Next-token logits after every prefix of ``ids``: (B, L) -> (B, L, V)."""
        return self._run(self.model, ids, 0, False).logits

    def evaluate(self, ids: torch.Tensor, start: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, L - start, V) — only those positions go through the LM head — and V(s) or None."""
        keep = ids.shape[1] - start
        out = self._run(self.model, ids, keep, self.value_head == "shared")
        values = None
        if self.value_head == "shared":
            values = self.v_head(out.hidden_states[-1][:, start:]).squeeze(-1)
        elif self.value_head == "separate":
            values = self.values(ids)[:, start:]
        return out.logits, values

    def values(self, ids: torch.Tensor) -> torch.Tensor:
        """V(s) after every prefix, (B, L), from the last hidden state of the shared or separate trunk."""
        if not self.has_value:
            raise ValueError("this policy has no value head; build it with pg.hf.policy(..., value_head='shared' "
                             "or 'separate')")
        trunk = self.critic if self.critic is not None else self.model
        hidden = self._run(trunk, ids, 1, True).hidden_states[-1]
        return self.v_head(hidden).squeeze(-1)

    def prefill(self, prompt_ids: torch.Tensor) -> tuple[torch.Tensor, CacheState]:
        """Read the (left-padded) prompts; return the logits (B, V) for the first new token and the cache."""
        mask = prompt_mask(prompt_ids, self.pad_id)
        pos = positions(mask)
        out = self.model(input_ids=prompt_ids, attention_mask=mask, position_ids=pos, use_cache=True,
                         logits_to_keep=1)
        return out.logits[:, -1], CacheState(out.past_key_values, mask, pos[:, -1] + 1)

    def step(self, token: torch.Tensor, state: CacheState) -> tuple[torch.Tensor, CacheState]:
        """Append one token per row (B,); return the next logits (B, V) and the grown state."""
        mask = torch.cat([state.attention_mask, state.attention_mask.new_ones(len(token), 1)], 1)
        out = self.model(input_ids=token[:, None], attention_mask=mask, position_ids=state.position[:, None],
                         past_key_values=state.past, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1], CacheState(out.past_key_values, mask, state.position + 1)


def policy(model: nn.Module, tokenizer: Any, value_head: str | None = None) -> HFPolicy:
    """Wrap a Hugging Face causal LM and its tokenizer as a pglab policy.

    ``model``: any ``AutoModelForCausalLM`` — :func:`pglab.hf.tiny_model` offline, or
    ``AutoModelForCausalLM.from_pretrained("gpt2")`` where there is a network (tests and
    chapters never download). ``tokenizer`` gives ``eos_token_id`` (required) and
    ``pad_token_id`` (EOS when unset). ``value_head``: None, ``"shared"`` (on the model's
    last hidden state) or ``"separate"`` (on a copy of the model). Move the model to its
    device (and dtype) before wrapping, or call ``.to(...)`` on the result.
    """
    return HFPolicy(model, tokenizer, value_head)
