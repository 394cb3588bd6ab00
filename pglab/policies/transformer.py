"""A small causal Transformer trunk (pre-LayerNorm GPT block) with a KV cache.

Teacher forcing attends over the whole sequence with a causal mask; sampling
feeds one token at a time and appends its keys and values to a per-layer cache,
so each new token costs O(L) instead of re-running the prefix. Attention is
written out (softmax(q kᵀ/√d) v) rather than fused, so it vmaps and reads like
the equation.
"""
from __future__ import annotations

import math

import torch
from torch import nn

Cache = list[tuple[torch.Tensor, torch.Tensor]]


class Block(nn.Module):
    """x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, d: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        *lead, L, d = x.shape
        return x.view(*lead, L, self.n_heads, d // self.n_heads).transpose(-2, -3)  # (B, h, L, d/h)

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None):
        """x: (B, L, d). With ``past`` (k, v) the L new positions follow the cached ones."""
        q, k, v = (self._heads(t) for t in self.qkv(self.ln1(x)).chunk(3, -1))
        if past is not None:
            k, v = torch.cat([past[0], k], -2), torch.cat([past[1], v], -2)
        L_new, L_all = q.shape[-2], k.shape[-2]
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])          # (B, h, L_new, L_all)
        causal = torch.ones(L_new, L_all, dtype=torch.bool, device=x.device).tril(L_all - L_new)
        att = scores.masked_fill(~causal, float("-inf")).softmax(-1)
        y = (att @ v).transpose(-2, -3).flatten(-2)                          # (B, L_new, d)
        x = x + self.proj(y)
        return x + self.mlp(self.ln2(x)), (k, v)


class TransformerTrunk(nn.Module):
    """Token + learned position embeddings, ``n_layers`` blocks, final LayerNorm."""

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, *,
                 n_layers: int = 2, n_heads: int = 4, max_len: int = 64, **_: object) -> None:
        super().__init__()
        if hidden_size % n_heads:
            raise ValueError(f"hidden_size must be divisible by n_heads={n_heads}, got {hidden_size}")
        self.embed = nn.Embedding(vocab_size, hidden_size)
        self.pos = nn.Embedding(max_len, hidden_size)
        self.blocks = nn.ModuleList(Block(hidden_size, n_heads) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(hidden_size)
        self.hidden_size, self.max_len = hidden_size, max_len

    def _embed(self, ids: torch.Tensor, start: int) -> torch.Tensor:
        L = ids.shape[-1]
        if start + L > self.max_len:
            raise ValueError(f"sequence length {start + L} exceeds the transformer's max_len={self.max_len}")
        return self.embed(ids) + self.pos(torch.arange(start, start + L, device=ids.device))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self._embed(ids, 0)
        for block in self.blocks:
            x, _ = block(x)
        return self.ln_f(x)                                                  # (B, L, H)

    unrolled = forward  # already vmappable

    def prefill(self, ids: torch.Tensor) -> tuple[torch.Tensor, tuple[Cache, int]]:
        x, cache = self._embed(ids, 0), []
        for block in self.blocks:
            x, kv = block(x)
            cache.append(kv)
        return self.ln_f(x)[:, -1], (cache, ids.shape[1])

    def step(self, token: torch.Tensor, state: tuple[Cache, int]):
        cache, pos = state
        x, new_cache = self._embed(token[:, None], pos), []
        for block, past in zip(self.blocks, cache):
            x, kv = block(x, past)
            new_cache.append(kv)
        return self.ln_f(x)[:, -1], (new_cache, pos + 1)
