"""Offline builders: tiny Hugging Face models from configs, and a tokenizer for pglab's own vocabulary.

Nothing here downloads anything. :func:`tiny_model` builds a randomly initialised
GPT-2, Llama or Qwen2 from its config, sized for a laptop CPU; the same ``seed``
gives the same weights. :func:`tokenizer_for_vocab` turns a task's
:class:`~pglab.vocab.Vocab` into a ``PreTrainedTokenizerFast`` with the *same ids*
(pad 0, bos 1, eos 2, then the task's words), so a task's prompts, completions and
rewards carry over unchanged to a Hugging Face model.

For a real checkpoint (needs a network once; cached afterwards)::

    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained("Qwen/Qwen2.5-0.5B-Instruct")
    model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-0.5B-Instruct", dtype=torch.bfloat16).to("cuda")
    policy = pg.hf.policy(model, tok)
"""
from __future__ import annotations

from typing import Any

import torch

from .. import checks
from ..policies import resolve_device
from ..vocab import BOS, EOS, PAD, Vocab

ARCHS = ("gpt2", "llama", "qwen2")


def tiny_model(tokenizer: Any, arch: str = "gpt2", *, n_layers: int = 2, hidden_size: int = 64, n_heads: int = 4,
               max_len: int = 256, seed: int = 0, dtype: torch.dtype = torch.float32,
               device: str | torch.device = "cpu", **config: Any):
    """A randomly initialised causal LM sized to ``tokenizer`` (vocab_size = len(tokenizer)).

    ``arch``: "gpt2" (``GPT2Config``: learned positions, LayerNorm, GELU), "llama"
    (``LlamaConfig``: rotary positions, RMSNorm, SwiGLU) or "qwen2" (``Qwen2Config``: as Llama,
    with biases on q, k, v). Width ``hidden_size``, ``n_layers`` blocks of ``n_heads`` heads, an
    MLP 4× wide, contexts up to ``max_len`` tokens, dropout 0. Extra keyword arguments go to the config.
    """
    import transformers
    checks.choice("arch", arch, ARCHS)
    n_layers = checks.positive_int("n_layers", n_layers, maximum=64)
    hidden_size = checks.positive_int("hidden_size", hidden_size, maximum=8192)
    n_heads = checks.positive_int("n_heads", n_heads, maximum=128)
    max_len = checks.positive_int("max_len", max_len, maximum=65_536)
    if hidden_size % n_heads:
        raise ValueError(f"hidden_size must be divisible by n_heads={n_heads}, got {hidden_size}")
    special = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
               "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id}
    V = len(tokenizer)
    for name in (("resid_pdrop", "embd_pdrop", "attn_pdrop") if arch == "gpt2" else ("attention_dropout",)):
        config.setdefault(name, 0.0)                  # no dropout: sampling and scoring see the same π_θ
    if arch == "gpt2":
        cfg = transformers.GPT2Config(vocab_size=V, n_positions=max_len, n_embd=hidden_size, n_layer=n_layers,
                                      n_head=n_heads, **special, **config)
    else:
        cls = transformers.LlamaConfig if arch == "llama" else transformers.Qwen2Config
        cfg = cls(vocab_size=V, hidden_size=hidden_size, intermediate_size=4 * hidden_size,
                  num_hidden_layers=n_layers, num_attention_heads=n_heads, num_key_value_heads=n_heads,
                  max_position_embeddings=max_len, tie_word_embeddings=True, **special, **config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(checks.seed("seed", seed))
        model = transformers.AutoModelForCausalLM.from_config(cfg)
    return model.to(device=resolve_device(device), dtype=dtype).eval()


def tokenizer_for_vocab(vocab: Vocab):
    """A ``PreTrainedTokenizerFast`` over pglab's word vocabulary, ids unchanged.

    Words are split on whitespace; ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2 as in
    :mod:`pglab.vocab`, so ``tok(text).input_ids == vocab.encode(text)``.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    if not isinstance(vocab, Vocab):
        raise ValueError(f"vocab must be a pglab.vocab.Vocab (e.g. task.vocab), got {type(vocab).__name__}")
    core = Tokenizer(models.WordLevel(dict(vocab.index), unk_token=None))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, bos_token=BOS, eos_token=EOS)
