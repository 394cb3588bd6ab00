"""Every task through a trained tokenizer: same decoded text, same reward; the tokenizer's EOS ends a completion."""
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

import pglab as pg  # noqa: E402
from pglab.hf.tokenizer import train_tokenizer  # noqa: E402
from pglab.tasks.text import TokenizerVocab, encode_completions, ended  # noqa: E402
from pglab.vocab import EOS_ID  # noqa: E402

SMALL = {"translate": dict(n_pairs=300), "translate-chrf": dict(n_pairs=300), "dialogue": dict(n_pairs=200),
         "fluency": dict(n_sentences=300, lm_steps=60), "arith": dict(digits=1)}
_CACHE: dict = {}


def tasks(name, kind):
    """(own-vocabulary task, the same task through a tokenizer trained on its texts)."""
    if (name, kind) not in _CACHE:
        own = pg.make_task(name, **SMALL.get(name, {}))
        tok = train_tokenizer(own.texts(), kind, vocab_size=300, min_frequency=1)
        _CACHE[name, kind] = own, pg.make_task(name, tokenizer=tok, **SMALL.get(name, {}))
    return _CACHE[name, kind]


def good_words(task, prompts):
    """The words of the correct completion of each prompt (own vocabulary)."""
    if task.name.startswith(("copy", "reverse")):
        return [task.vocab.words(row) for row in task.targets(prompts).tolist()]
    if task.name == "arith":
        return [list(str(a)) for a in task.answers(prompts)]
    if task.name == "fluency":
        return [s.split()[1:] for s in task.sentences[:len(prompts)]]
    return [r.split() for r in task.references(prompts)]


def completions(task, prompts, generator):
    """Correct completions, some with a word dropped, swapped for a random word, or doubled."""
    words = task.vocab.tokens[3:]
    out = []
    for i, good in enumerate(good_words(task, prompts)):
        w = list(good)
        kind = i % 4
        if kind == 1 and len(w) > 1:
            w = w[:-1]
        elif kind == 2:
            w[int(torch.randint(len(w), (1,), generator=generator))] = words[int(torch.randint(len(words), (1,),
                                                                                             generator=generator))]
        elif kind == 3:
            w = w[:1] + w
        out.append(w[:task.max_new_tokens - 1])
    return out


@pytest.mark.parametrize("kind", ["char", "bpe"])
@pytest.mark.parametrize("name", sorted(pg.tasks.TASKS))
def test_same_reward_on_the_same_decoded_text(name, kind):
    own, tok = tasks(name, kind)
    prompts_own, prompts_tok = (t.sample_prompts(16, torch.Generator().manual_seed(3)) for t in (own, tok))
    assert [own.vocab.words(r) for r in prompts_own.tolist()] == [tok.vocab.words(r) for r in prompts_tok.tolist()] \
        or name == "arith"
    word_lists = completions(own, prompts_own, torch.Generator().manual_seed(4))
    ids_own, mask_own = encode_completions(own.vocab, word_lists, own.max_new_tokens)
    texts = own.decode(ids_own)
    joiner = "" if name == "arith" else " "
    spelled = [("" if name == "arith" else " ") + joiner.join(w) for w in word_lists]
    ids_tok, mask_tok = encode_completions(tok.vocab, spelled, tok.max_new_tokens)
    assert tok.decode(ids_tok) == texts                                        # the same text ...
    r_own = own.reward(prompts_own, ids_own, mask_own).sum(1)
    r_tok = tok.reward(prompts_tok, ids_tok, mask_tok).sum(1)
    torch.testing.assert_close(r_tok, r_own, atol=1e-5, rtol=1e-5)            # ... the same reward
    assert r_own.min() < r_own.max()                                           # not all equal by accident
    assert (tok.reward(prompts_tok, ids_tok, mask_tok) * (1 - mask_tok)).abs().sum() == 0


@pytest.mark.parametrize("name", ["copy", "arith", "translate", "fluency"])
def test_the_tokenizers_eos_ends_a_completion(name):
    own, tok = tasks(name, "char")
    prompts = tok.sample_prompts(4, torch.Generator().manual_seed(0))
    word_lists = good_words(own, own.sample_prompts(4, torch.Generator().manual_seed(0)))
    spelled = [("" if name == "arith" else " ") + ("" if name == "arith" else " ").join(w) for w in word_lists]
    ids, mask = encode_completions(tok.vocab, spelled, tok.max_new_tokens)
    eos = tok.vocab.eos_id
    assert (ids[torch.arange(4), mask.sum(1).long() - 1] == eos).all()
    assert ended(ids, mask, eos).all()
    garbage = ids.clone()
    garbage[mask == 0] = tok.vocab.index[tok.vocab.tokens[5]]                 # tokens after EOS do not count
    assert tok.decode(garbage) == tok.decode(ids)
    torch.testing.assert_close(tok.reward(prompts, garbage, mask), tok.reward(prompts, ids, mask))
    if name in ("copy", "arith", "fluency"):                                   # stopping is part of the reward
        no_stop = ids.clone()
        no_stop[ids == eos] = tok.vocab.index["0" if name == "arith" else " "]
        assert not ended(no_stop, mask, eos).any()
        assert (tok.reward(prompts, no_stop, mask).sum(1) != tok.reward(prompts, ids, mask).sum(1)).all()


def test_train_tokenizer_char_and_bpe():
    texts = ["the cat sees a dog", "la kato vidas hundon", "17+25=42"] * 20
    char = train_tokenizer(texts, "char")
    bpe = train_tokenizer(texts, "bpe", vocab_size=300)
    for tok in (char, bpe):
        assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)
        for t in texts[:3]:
            assert tok.decode(tok(t)["input_ids"]) == t
        assert tok(texts[0])["input_ids"][0] not in (0, 1, 2)                  # no special token added
    assert len(char("17+25=")["input_ids"]) == 6
    assert len(bpe("the cat sees a dog")["input_ids"]) < len("the cat sees a dog")   # merges happened
    assert len(bpe) <= 300 and len(char) == 4 + len(set("".join(texts)))
    v = TokenizerVocab(char)
    assert v.decode([1, *char("42")["input_ids"], 2, 7, 7]) == "42"


def test_a_tokenizer_whose_bos_is_its_eos():
    """Models trained without BOS often reuse EOS for it: a prompt still decodes, a completion still ends."""
    tok = train_tokenizer(pg.make_task("copy").texts(), "char")
    tok.bos_token = tok.eos_token
    task = pg.make_task("copy", tokenizer=tok)
    prompts = task.sample_prompts(4, torch.Generator().manual_seed(0))
    assert (prompts[:, 0] == tok.eos_token_id).all()
    assert all(t.endswith(" =") and len(t) == 7 for t in task.decode(prompts))
    ids = task.targets(prompts)
    mask = (torch.arange(ids.shape[1]) <= (ids == tok.eos_token_id).long().argmax(1, keepdim=True)).float()
    assert task.reward(prompts, ids, mask).sum(1).tolist() == [1.0] * 4


def test_train_tokenizer_rejects_bad_input():
    with pytest.raises(ValueError, match="kind"):
        train_tokenizer(["a"], "word")
    with pytest.raises(ValueError, match="texts"):
        train_tokenizer([], "char")
    with pytest.raises(ValueError, match="vocab_size"):
        train_tokenizer(["a b"], "bpe", vocab_size=100)


def test_default_vocabulary_untouched():
    """Without a tokenizer nothing changes: pglab's own ids and constants."""
    task = pg.make_task("copy")
    assert task.vocab.tokens[:3] == ["<pad>", "<bos>", "<eos>"] and task.max_new_tokens == 4
    assert task.targets(task.sample_prompts(2, torch.Generator().manual_seed(0)))[:, -1].eq(EOS_ID).all()
