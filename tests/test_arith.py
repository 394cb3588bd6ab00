"""The arith task: a seeded, disjoint train/test split and hand-computed rewards, in both vocabularies."""
import pytest
import torch

import pglab as pg
from pglab.tasks.text import encode_completions


def prompt_of(task, a, b, split="train"):
    i = task.problems[split].index((a, b))
    return task.prompts(split)[i:i + 1]


def test_split_is_disjoint_seeded_and_keeps_both_orders_together():
    task = pg.make_task("arith")
    train, test = set(task.problems["train"]), set(task.problems["test"])
    assert not train & test and len(train | test) == 100 * 100
    assert not {frozenset(p) for p in train} & {frozenset(p) for p in test}    # 25+17 is not a hint for 17+25
    assert 0.15 < len(test) / 10_000 < 0.25                                    # test_fraction=0.2 of unordered pairs
    rows = lambda t, s: {tuple(r) for r in t.prompts(s).tolist()}              # noqa: E731
    assert not rows(task, "train") & rows(task, "test")
    assert pg.make_task("arith").problems == task.problems                     # the same seed, the same split
    assert pg.make_task("arith", seed=1).problems["test"] != task.problems["test"]
    drawn = pg.make_task("arith", split="test").sample_prompts(64, torch.Generator().manual_seed(0))
    assert {tuple(r) for r in drawn.tolist()} <= rows(task, "test")


def test_own_vocabulary_spells_one_character_per_token():
    task = pg.make_task("arith")
    p = prompt_of(task, 17, 25)
    assert task.vocab.words(p[0].tolist()) == list("17+25=")
    assert task.max_new_tokens == 4                                            # up to 3 digits (99+99) and EOS
    ids, mask = encode_completions(task.vocab, ["4 2"], task.max_new_tokens)
    assert task.decode(ids) == ["42"]
    assert task.reward(p, ids, mask).tolist() == [[0.0, 0.0, 1.0, 0.0]]       # paid on EOS, the last valid token


@pytest.mark.parametrize("coef", [0.0, 0.1])
def test_rewards_by_hand(coef):
    task = pg.make_task("arith", format_coef=coef)
    p = prompt_of(task, 17, 25).expand(4, -1)
    # "42" right; "41" wrong but well formed; "4+" not a number; "420" with no EOS (ran out of horizon)
    ids, mask = encode_completions(task.vocab, ["4 2", "4 1", "4 +", "4 2 0"], task.max_new_tokens)
    ids[3], mask[3] = torch.tensor(task.vocab.encode("4 2 0 0")), 1.0
    assert task.reward(p, ids, mask).sum(1).tolist() == pytest.approx([1 + coef, coef, 0.0, 0.0])
    assert task.score(["42", " 42", "042"], [42, 42, 42], [True, True, True]).tolist() == \
        pytest.approx([1 + coef, 0.0, coef])                                   # exact match is exact


def test_through_a_tokenizer():
    pytest.importorskip("transformers")
    from pglab.hf.tokenizer import train_tokenizer
    own = pg.make_task("arith", format_coef=0.1)
    tok = train_tokenizer(own.texts(), "char")
    task = pg.make_task("arith", format_coef=0.1, tokenizer=tok)
    assert task.problems == own.problems and len(task.vocab) == 4 + 12
    p = prompt_of(task, 17, 25)
    assert tok.decode(p[0]) == "<bos>17+25=" or tok.decode(p[0], skip_special_tokens=True) == "17+25="
    ids, mask = task.targets()
    assert task.decode(ids[:3]) == [str(a + b) for a, b in task.problems["train"][:3]]
    ids, mask = encode_completions(task.vocab, ["42", "41"], task.max_new_tokens)
    assert task.reward(p.expand(2, -1), ids, mask).sum(1).tolist() == pytest.approx([1.1, 0.1])


def test_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match="digits"):
        pg.make_task("arith", digits=0)
    with pytest.raises(ValueError, match="test_fraction"):
        pg.make_task("arith", test_fraction=1.0)
    with pytest.raises(ValueError, match="format_coef"):
        pg.make_task("arith", format_coef=2.0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        pg.make_task("arith", max_new_tokens=3)                                # 99+99=198 needs 3 digits and EOS
    assert pg.make_task("arith", max_new_tokens=8).max_new_tokens == 8
    with pytest.raises(ValueError, match="split"):
        pg.make_task("arith", split="dev")
