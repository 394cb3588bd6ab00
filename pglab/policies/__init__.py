"""Token policies π_θ(a_t | s_t): a trunk, a language-model head, an optional value head.

The state s_t is the token prefix (prompt + completion so far); the action a_t
is the next token. :class:`~pglab.policies.protocol.PolicyProtocol` is the whole
contract, which a Hugging Face model wrapped by :func:`pglab.hf.policy` meets too. Every policy offers

* ``forward(ids) -> logits (B, L, V)`` — teacher-forced; position i scores token i+1;
* ``evaluate(ids) -> (logits, values)`` — values (B, L) or None without a value head;
* ``prefill(prompt_ids)`` then ``step(token, state)`` — incremental sampling that
  carries the RNN state or the Transformer's KV cache.

``value_head="shared"`` puts V(s) on the policy's own trunk (cheap, but the two
losses pull on the same features); ``"separate"`` gives the critic its own trunk.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .. import checks
from ..vocab import EOS_ID, PAD_ID
from .protocol import ActorCriticSplit, PolicyProtocol, eos_id, pad_id
from .recurrent import GRUTrunk, LSTMTrunk
from .transformer import TransformerTrunk

TRUNKS: dict[str, type[nn.Module]] = {"gru": GRUTrunk, "lstm": LSTMTrunk, "transformer": TransformerTrunk}
VALUE_HEADS = (None, "shared", "separate")
CRITIC_PREFIXES = ("critic_trunk.", "v_head.")
HF_KINDS: dict[str, str] = {"hf-gpt2": "gpt2", "hf-llama": "llama", "hf-qwen2": "qwen2"}
"""Hugging Face kinds that the CLI and the sweep can name: a tiny model of that architecture, built
offline from its config over the task's own vocabulary (needs the ``[hf]`` extra; see :func:`make_policy`).
They are not in :data:`TRUNKS`, so the live lab's dropdown does not list them."""
POLICY_KINDS = (*TRUNKS, *HF_KINDS)
"""Every name :func:`make_policy` builds."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU. Asking for a device this
    machine lacks is a ``ValueError`` naming what is available."""
    if str(device) != "auto":
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError):
            raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto', got {device!r}") from None
        if dev.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto', got {device!r}")
        if dev.type != "cpu" and dev not in available_devices() and torch.device(dev.type) not in available_devices():
            raise ValueError(f"device {device!r} is not available on this machine; available: "
                             f"{', '.join(str(d) for d in available_devices())} (or 'auto')")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} is not available: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_devices() -> list[torch.device]:
    """The device types this machine can run pglab on: always the CPU, plus CUDA / MPS when present."""
    found = [torch.device("cpu")]
    if torch.cuda.is_available():
        found.append(torch.device("cuda"))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        found.append(torch.device("mps"))
    return found


class Policy(ActorCriticSplit, nn.Module):
    """A trunk (GRU, LSTM or Transformer) with an LM head and an optional value head."""
    critic_prefixes = CRITIC_PREFIXES

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self.spec = dict(spec)
        trunk_cls = TRUNKS[spec["kind"]]
        sizes = {k: spec[k] for k in ("vocab_size", "embed_size", "hidden_size", "n_layers", "n_heads", "max_len")}
        self.trunk = trunk_cls(**sizes)
        self.lm_head = nn.Linear(spec["hidden_size"], spec["vocab_size"])
        self.value_head = spec["value_head"]
        self.critic_trunk = trunk_cls(**sizes) if self.value_head == "separate" else None
        self.v_head = nn.Linear(spec["hidden_size"], 1) if self.value_head else None

    @property
    def kind(self) -> str:
        return self.spec["kind"]

    @property
    def vocab_size(self) -> int:
        return self.spec["vocab_size"]

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    eos_id = EOS_ID
    """End of a completion: pglab's vocabulary puts it at 2 for every task."""
    pad_id = PAD_ID
    """Padding after EOS and in front of short prompts: 0 in pglab's vocabulary."""

    def set_fused(self, fused: bool) -> None:
        """Fused recurrent kernels (fast) or the unrolled loop (vmappable by torch.func)."""
        for trunk in (self.trunk, self.critic_trunk):
            if trunk is not None and hasattr(trunk, "fused"):
                trunk.fused = fused

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Next-token logits after every prefix of ``ids``: (B, L) -> (B, L, V)."""
        return self.lm_head(self.trunk(ids))

    def evaluate(self, ids: torch.Tensor, start: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, L - start, V) and values V(s) (B, L - start) — or None without a value head —
        for the prefixes ending at positions ``start`` … L-1 (the trunk still reads all of ``ids``)."""
        hidden = self.trunk(ids)
        values = self._values(ids, hidden)
        return self.lm_head(hidden[:, start:]), None if values is None else values[:, start:]

    def values(self, ids: torch.Tensor) -> torch.Tensor:
        """V(s) after every prefix, (B, L)."""
        if not self.has_value:
            raise ValueError("this policy has no value head; build it with value_head='shared' or 'separate'")
        hidden = self.trunk(ids) if self.value_head == "shared" else None
        return self._values(ids, hidden)

    def _values(self, ids: torch.Tensor, hidden: torch.Tensor | None) -> torch.Tensor | None:
        if self.v_head is None:
            return None
        if self.critic_trunk is not None:
            hidden = self.critic_trunk(ids)
        return self.v_head(hidden).squeeze(-1)

    def prefill(self, prompt_ids: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Read the prompt; return the logits (B, V) for the first new token and the state."""
        hidden, state = self.trunk.prefill(prompt_ids)
        return self.lm_head(hidden), state

    def step(self, token: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """Append one token per row; return the next logits (B, V) and the new state."""
        hidden, state = self.trunk.step(token, state)
        return self.lm_head(hidden), state


# Default widths give every kind a similar parameter count (~0.1 M at V = 8):
# a GRU/LSTM with 128 hidden units, a 2-layer Transformer with d_model = 64.
DEFAULT_HIDDEN = {"gru": 128, "lstm": 128, "transformer": 64, **{kind: 64 for kind in HF_KINDS}}


def make_policy(kind: str = "gru", vocab_size: int | None = None, *, embed_size: int = 64,
                hidden_size: int | None = None, value_head: str | None = None, n_layers: int | None = None,
                n_heads: int | None = None, max_len: int | None = None, seed: int = 0,
                device: str | torch.device = "cpu") -> Policy:
    """Build a policy; the same ``seed`` gives the same initial weights on every device.

    ``vocab_size`` is usually ``len(task.vocab)``; it may also be passed a
    :class:`~pglab.tasks.base.Task`. ``hidden_size=None`` takes :data:`DEFAULT_HIDDEN`.
    ``n_layers``, ``n_heads`` and ``max_len`` shape the Transformer only (defaults 2, 4, 64);
    the GRU and LSTM trunks are single-layer and reject them rather than ignore them.

    An ``"hf-*"`` kind (:data:`HF_KINDS`) builds ``pg.hf.policy(pg.hf.tiny_model(tok, arch=...), tok,
    value_head=...)`` with ``tok = pg.hf.tokenizer_for_vocab(task.vocab)``: pass the task itself as
    ``vocab_size`` (the tokenizer needs its words). ``hidden_size`` (default 64), ``n_layers`` (2),
    ``n_heads`` (4) and ``max_len`` (256) size the model. It needs the ``[hf]`` extra; pglab's
    checkpoints do not hold it (save ``policy.model`` with ``save_pretrained``).
    """
    checks.choice("policy", kind, POLICY_KINDS)
    if kind in HF_KINDS:
        return _make_hf_policy(kind, vocab_size, hidden_size=hidden_size, value_head=value_head,
                               n_layers=n_layers, n_heads=n_heads, max_len=max_len, seed=seed, device=device)
    n_layers, n_heads, max_len = _transformer_sizes(kind, n_layers, n_heads, max_len)
    hidden_size = DEFAULT_HIDDEN[kind] if hidden_size is None else hidden_size
    if hasattr(vocab_size, "vocab"):
        vocab_size = len(vocab_size.vocab)
    spec = {"kind": kind, "vocab_size": vocab_size, "embed_size": embed_size, "hidden_size": hidden_size,
            "value_head": value_head, "n_layers": n_layers, "n_heads": n_heads, "max_len": max_len, "seed": seed}
    return policy_from_spec(spec, device)


def require_hf(kind: str) -> None:
    """Raise a one-line error naming the ``[hf]`` extra if ``kind`` is a Hugging Face kind and
    ``transformers`` is missing; pglab's own kinds need nothing."""
    if kind in HF_KINDS:
        import importlib.util
        if importlib.util.find_spec("transformers") is None or importlib.util.find_spec("tokenizers") is None:
            raise ModuleNotFoundError(f'policy {kind!r} needs the [hf] extra: pip install "pglab[hf]" '
                                      "(transformers and tokenizers)")


def _make_hf_policy(kind: str, task: Any, *, hidden_size: int | None, value_head: str | None,
                    n_layers: int | None, n_heads: int | None, max_len: int | None, seed: int,
                    device: str | torch.device) -> PolicyProtocol:
    """A tiny Hugging Face model of ``HF_KINDS[kind]``'s architecture over the task's vocabulary."""
    if not hasattr(task, "vocab"):
        raise ValueError(f"policy {kind!r} needs the task itself (make_policy({kind!r}, task)) to build a "
                         f"tokenizer over its words, got vocab_size={task!r}")
    checks.choice("value_head", value_head, VALUE_HEADS)
    require_hf(kind)
    from .. import hf                                  # lazy: `import pglab` stays free of transformers
    tok = hf.tokenizer_for_vocab(task.vocab)
    model = hf.tiny_model(tok, arch=HF_KINDS[kind], hidden_size=64 if hidden_size is None else hidden_size,
                          n_layers=2 if n_layers is None else n_layers, n_heads=4 if n_heads is None else n_heads,
                          max_len=256 if max_len is None else max_len, seed=seed, device=device)
    with torch.random.fork_rng(devices=[]):           # the value head's initial weights follow the seed too
        torch.manual_seed(seed)
        return hf.policy(model, tok, value_head=value_head)


# Upper bounds that keep a typo from allocating terabytes (this is a teaching lab, not a 7B model).
MAX_SIZES = {"vocab_size": 1_000_000, "embed_size": 8192, "hidden_size": 8192, "n_layers": 64,
             "n_heads": 128, "max_len": 65_536}
MAX_PARAMETERS = 2_000_000_000
"""A spec whose weights would exceed this count (8 GB in float32) is refused before anything is allocated."""


def validate_spec(spec: object) -> dict[str, Any]:
    """Check a policy spec (from :func:`make_policy` or a checkpoint); return a clean copy or raise ValueError."""
    if not isinstance(spec, dict):
        raise ValueError(f"a policy spec must be a dict, got {type(spec).__name__}")
    missing = {"kind", "vocab_size", "embed_size", "hidden_size", "value_head", "n_layers", "n_heads",
               "max_len", "seed"} - set(spec)
    if missing:
        raise ValueError(f"policy spec lacks {', '.join(sorted(missing))}")
    if spec["kind"] in HF_KINDS:
        raise ValueError(f"policy {spec['kind']!r} is a Hugging Face model, which pglab's checkpoints do not hold; "
                         "save policy.model and policy.tokenizer with save_pretrained(folder) instead")
    kind = checks.choice("policy", spec["kind"], list(TRUNKS))
    clean: dict[str, Any] = {"kind": kind, "value_head": checks.choice("value_head", spec["value_head"], VALUE_HEADS),
                             "seed": checks.seed("seed", spec["seed"])}
    for name, maximum in MAX_SIZES.items():
        value = spec[name]
        if value is None and name in ("n_heads", "max_len") and kind != "transformer":
            clean[name] = None
            continue
        clean[name] = checks.positive_int(name, value, minimum=3 if name == "vocab_size" else 1, maximum=maximum)
    if kind == "transformer" and clean["hidden_size"] % clean["n_heads"]:
        raise ValueError(f"hidden_size must be divisible by n_heads={clean['n_heads']}, got {clean['hidden_size']}")
    if kind != "transformer" and clean["n_layers"] != 1:
        raise ValueError(f"n_layers must be 1 for policy {kind!r} (a single-layer RNN), got {clean['n_layers']}")
    n_params = _parameter_estimate(clean)
    if n_params > MAX_PARAMETERS:
        raise ValueError(f"this policy would have about {n_params:,} parameters (hidden_size={clean['hidden_size']}, "
                         f"vocab_size={clean['vocab_size']}); the limit is {MAX_PARAMETERS:,}")
    return clean


def _parameter_estimate(spec: dict[str, Any]) -> int:
    """Rough parameter count of a spec (within a few per cent), to refuse absurd sizes before allocating."""
    V, E, H = spec["vocab_size"], spec["embed_size"], spec["hidden_size"]
    if spec["kind"] == "transformer":
        trunk = V * H + spec["max_len"] * H + spec["n_layers"] * 12 * H * H
    else:
        gates = 3 if spec["kind"] == "gru" else 4
        trunk = V * E + gates * H * (E + H)
    critic = trunk if spec["value_head"] == "separate" else 0
    return trunk + critic + H * V + H


def _transformer_sizes(kind: str, n_layers: int | None, n_heads: int | None,
                       max_len: int | None) -> tuple[int, int | None, int | None]:
    """(n_layers, n_heads, max_len) as stored in the spec; an argument that does not apply is an error."""
    if kind != "transformer":
        given = [name for name, v in (("n_layers", n_layers), ("n_heads", n_heads), ("max_len", max_len))
                 if v is not None and not (name == "n_layers" and v == 1)]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to policy 'transformer'; the {kind} trunk is a "
                             f"single-layer RNN (n_layers=1) with no heads and no length limit")
        return 1, None, None
    return (checks.positive_int("n_layers", 2 if n_layers is None else n_layers),
            checks.positive_int("n_heads", 4 if n_heads is None else n_heads),
            checks.positive_int("max_len", 64 if max_len is None else max_len))


def policy_from_spec(spec: dict[str, Any], device: str | torch.device = "cpu") -> Policy:
    """Rebuild a policy from its plain-dict ``spec`` (as stored in checkpoints)."""
    spec = validate_spec(spec)
    device = resolve_device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec["seed"])
        policy = Policy(spec)
    return policy.to(device)


def check_compatible(policy: Policy, vocab_size: int) -> None:
    """Raise if the policy's output size differs from the task's vocabulary size.

    A foreign model (:func:`pglab.hf.policy`) may have more output rows than its tokenizer
    has tokens (embedding matrices are often padded); it only needs at least as many."""
    if getattr(policy, "tokenizer", None) is not None and policy.vocab_size >= vocab_size:
        return
    if policy.vocab_size != vocab_size:
        raise ValueError(f"policy vocab_size={policy.vocab_size} does not match the task's "
                         f"vocabulary size {vocab_size}; build the policy with make_policy(kind, len(task.vocab))")
