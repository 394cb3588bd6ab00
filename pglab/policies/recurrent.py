"""GRU and LSTM trunks: token ids -> hidden states, teacher-forced or one step at a time.

Teacher forcing uses the fused ``nn.GRU`` / ``nn.LSTM`` kernels (fast on CPU and
GPU). The incremental step uses ATen's fused single-step cells; :meth:`unrolled`
re-implements the same cell in plain tensor ops over the *same* parameters,
because the fused kernels cannot be vmapped by ``torch.func`` (per-sample
gradients need that) — and because the gate equations are worth reading. PyTorch's gate
order is (r, z, n) for the GRU and (i, f, g, o) for the LSTM.
"""
from __future__ import annotations

import torch
from torch import nn

State = tuple[torch.Tensor, ...]


def gru_cell(gi: torch.Tensor, h: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:
    """One GRU step given the input projection ``gi = W_ih x + b_ih`` (B, 3H)."""
    gh = h @ w_hh.T + b_hh                              # (B, 3H)
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = gh.chunk(3, -1)
    r = torch.sigmoid(i_r + h_r)                        # reset gate
    z = torch.sigmoid(i_z + h_z)                        # update gate
    n = torch.tanh(i_n + r * h_n)                       # candidate state
    return (1 - z) * n + z * h                          # (B, H)


def lstm_cell(gi: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
              w_hh: torch.Tensor, b_hh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step given the input projection ``gi = W_ih x + b_ih`` (B, 4H)."""
    i, f, g, o = (gi + h @ w_hh.T + b_hh).chunk(4, -1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class _RecurrentTrunk(nn.Module):
    """Embedding followed by a single-layer recurrent network (``rnn_class``)."""

    rnn_class: type[nn.Module]

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, **_: object) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.rnn = self.rnn_class(embed_size, hidden_size, batch_first=True)
        self.hidden_size = hidden_size
        self.fused = True  # False: use the vmappable unrolled loop

    def _weights(self):
        r = self.rnn
        return r.weight_ih_l0, r.bias_ih_l0, r.weight_hh_l0, r.bias_hh_l0

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Hidden state after each input token, (B, L, H)."""
        if self.fused:
            return self.rnn(self.embed(ids))[0]
        return self.unrolled(ids)


class GRUTrunk(_RecurrentTrunk):
    """Embedding followed by a single-layer GRU."""

    rnn_class = nn.GRU

    def unrolled(self, ids: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`forward`, written as a Python loop of :func:`gru_cell`."""
        w_ih, b_ih, w_hh, b_hh = self._weights()
        gi = self.embed(ids) @ w_ih.T + b_ih               # (B, L, 3H): all inputs in one matmul
        h = gi.new_zeros(*ids.shape[:-1], self.hidden_size)
        out = []
        for t in range(ids.shape[-1]):
            h = gru_cell(gi[..., t, :], h, w_hh, b_hh)
            out.append(h)
        return torch.stack(out, -2)

    def prefill(self, ids: torch.Tensor) -> tuple[torch.Tensor, State]:
        """Read a prompt; return the last hidden state (B, H) and the carried state."""
        hidden = self.forward(ids)
        return hidden[:, -1], (hidden[:, -1],)

    def step(self, token: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Feed one token per row (B,); return the new hidden (B, H) and state.

        Uses ATen's fused cell (the same equations as :func:`gru_cell`, faster)."""
        w_ih, b_ih, w_hh, b_hh = self._weights()
        h = torch.gru_cell(self.embed(token), state[0], w_ih, w_hh, b_ih, b_hh)
        return h, (h,)


class LSTMTrunk(_RecurrentTrunk):
    """Embedding followed by a single-layer LSTM."""

    rnn_class = nn.LSTM

    def _loop(self, ids: torch.Tensor) -> tuple[torch.Tensor, State]:
        w_ih, b_ih, w_hh, b_hh = self._weights()
        gi = self.embed(ids) @ w_ih.T + b_ih               # (B, L, 4H)
        h = gi.new_zeros(*ids.shape[:-1], self.hidden_size)
        c = torch.zeros_like(h)
        out = []
        for t in range(ids.shape[-1]):
            h, c = lstm_cell(gi[..., t, :], h, c, w_hh, b_hh)
            out.append(h)
        return torch.stack(out, -2), (h, c)

    def unrolled(self, ids: torch.Tensor) -> torch.Tensor:
        return self._loop(ids)[0]

    def prefill(self, ids: torch.Tensor) -> tuple[torch.Tensor, State]:
        hidden, (h, c) = self.rnn(self.embed(ids))
        return hidden[:, -1], (h[0], c[0])

    def step(self, token: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        w_ih, b_ih, w_hh, b_hh = self._weights()
        h, c = torch.lstm_cell(self.embed(token), (state[0], state[1]), w_ih, w_hh, b_ih, b_hh)
        return h, (h, c)
