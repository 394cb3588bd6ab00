"""Bring your own language model: Hugging Face ``transformers`` causal LMs as pglab policies.

Needs the ``[hf]`` extra (``pip install "pglab[hf]"``: transformers and tokenizers)::

    import pglab as pg
    tok = pg.hf.tokenizer_for_vocab(task.vocab)          # or a trained / pretrained tokenizer
    model = pg.hf.tiny_model(tok, arch="gpt2")           # random weights, offline
    policy = pg.hf.policy(model, tok, value_head=None)   # every algorithm takes it
    pg.train.train(policy, task, algo="grpo")

With a network, ``AutoModelForCausalLM.from_pretrained(name)`` and
``AutoTokenizer.from_pretrained(name)`` give the real thing; wrap them the same way.
"""
from __future__ import annotations

try:
    import transformers  # noqa: F401
except ModuleNotFoundError as err:  # pragma: no cover - depends on the environment
    raise ModuleNotFoundError('pglab.hf needs the [hf] extra: pip install "pglab[hf]" '
                              "(transformers and tokenizers)") from err

from .models import ARCHS, tiny_model, tokenizer_for_vocab
from .policy import HFPolicy, policy, prompt_mask
from .tokenizer import train_tokenizer

__all__ = ["ARCHS", "HFPolicy", "policy", "prompt_mask", "tiny_model", "tokenizer_for_vocab", "train_tokenizer"]
