"""A tokenizer trained offline on a task's own text, as a ``transformers`` tokenizer.

Real language models read text through a tokenizer, not through pglab's word
vocabulary. :func:`train_tokenizer` builds one with the ``tokenizers`` library from
nothing but the strings it is given (no download) and wraps it as a
``transformers.PreTrainedTokenizerFast``, so that ``pg.hf.tiny_model`` and any
Hugging Face code can use it:

* ``kind="char"`` — one token per character: a ``WordLevel`` model over the
  characters of the corpus, a pre-tokenizer that splits every character off
  (``Split(Regex("."), "isolated")``), and a ``Fuse`` decoder that glues the
  characters back together. ``"17+25="`` is six tokens; nothing is ever merged.
* ``kind="bpe"`` — byte-level byte-pair encoding as in GPT-2: start from the 256
  bytes and merge the most frequent adjacent pair until ``vocab_size`` tokens
  exist. Frequent words become single tokens (``"Ġcat"``, the ``Ġ`` marking a
  leading space); any string can still be encoded, byte by byte.

Four special tokens sit at the front, in pglab's order: ``<pad>`` = 0,
``<bos>`` = 1, ``<eos>`` = 2, then ``<unk>`` = 3. The tokenizer adds none of them
by itself (``add_special_tokens`` does nothing): tasks put BOS before a prompt and
EOS after a completion explicitly, the way pglab's own vocabulary does.

>>> tok = train_tokenizer(["17+25=42", "3+4=7"], kind="char")
>>> tok.convert_ids_to_tokens(tok("17+25=")["input_ids"])
['1', '7', '+', '2', '5', '=']
>>> tok.decode(tok("42")["input_ids"] + [tok.eos_token_id, tok.pad_token_id], skip_special_tokens=True)
'42'
"""
from __future__ import annotations

from collections.abc import Iterable

from .. import checks

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
KINDS = ("char", "bpe")


def _char_tokenizer(texts: list[str]):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    chars = sorted({c for text in texts for c in text})
    vocab = {tok: i for i, tok in enumerate([*SPECIAL_TOKENS, *chars])}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")   # every character on its own
    tk.decoder = decoders.Fuse()                                               # and glued back on decode
    return tk


def _bpe_tokenizer(texts: list[str], vocab_size: int, min_frequency: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)   # GPT-2's byte-level split
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(texts, trainer=trainer)
    return tk


def train_tokenizer(texts: Iterable[str], kind: str = "char", *, vocab_size: int = 512,
                    min_frequency: int = 2):
    """Train a tokenizer on ``texts`` and return it as a ``PreTrainedTokenizerFast``.

    ``kind`` is ``"char"`` (one token per character seen in ``texts``) or ``"bpe"``
    (byte-level BPE with at most ``vocab_size`` tokens, the 256 bytes and the 4 specials
    included; a merge must occur ``min_frequency`` times). Deterministic in ``texts``.
    Pad, BOS and EOS are ``tok.pad_token_id``, ``tok.bos_token_id``, ``tok.eos_token_id``
    (0, 1, 2); padding is on the left, as batched prompts need.
    """
    kind = checks.choice("kind", kind, list(KINDS))
    texts = [t for t in texts]
    if not texts or not all(isinstance(t, str) for t in texts) or not any(texts):
        raise ValueError("texts must be a non-empty list of strings with at least one non-empty string")
    if kind == "char":
        tk = _char_tokenizer(texts)
    else:
        vocab_size = checks.positive_int("vocab_size", vocab_size, minimum=256 + len(SPECIAL_TOKENS))
        min_frequency = checks.positive_int("min_frequency", min_frequency)
        tk = _bpe_tokenizer(texts, vocab_size, min_frequency)
    from transformers import PreTrainedTokenizerFast
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<bos>",
                                   eos_token="<eos>", unk_token="<unk>", padding_side="left")
