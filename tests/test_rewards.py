import pytest
import sacrebleu
import torch

import pglab as pg
from pglab.rollout import completion_mask
from pglab.rewards import FluencyReward, at_last_token, sentence_bleu, sentence_chrf
from pglab.tasks.toylang import Grammar, parallel_corpus
from pglab.vocab import BOS_ID, EOS_ID, PAD_ID


@pytest.fixture(scope="module")
def translate():
    return pg.make_task("translate", n_pairs=600)


def test_corpus_is_deterministic_and_split(translate):
    again = pg.make_task("translate", n_pairs=600)
    assert translate.pairs == again.pairs
    assert len(translate.pairs["train"]) == 540 and len(translate.pairs["test"]) == 60
    train_src = {s for s, _ in translate.pairs["train"]}
    assert not train_src & {s for s, _ in translate.pairs["test"]}
    assert parallel_corpus(Grammar(), 50, seed=1) != parallel_corpus(Grammar(), 50, seed=1 + 1)


def test_translation_rules_by_example():
    from pglab.tasks.toylang import Phrase, render_source, translate
    s = (Phrase("the", "big", "cat", True), "chase", Phrase("a", None, "mouse", False))
    assert render_source(s) == "the big cats chase a mouse"
    assert translate(s) == "la katoj grandaj muson casan"


@pytest.mark.parametrize("metric", ["bleu", "chrf"])
def test_translation_reward_equals_sacrebleu(translate, metric, gen):
    task = pg.make_task(f"translate-{metric}" if metric == "chrf" else "translate", n_pairs=600)
    prompts = task.sample_prompts(6, gen)
    refs = task.references(prompts)
    # completions: the reference itself, a truncated reference, a sampled policy output
    completions = torch.full((6, task.max_new_tokens), PAD_ID)
    for i, ref in enumerate(refs):
        words = ref.split()[: len(ref.split()) - (i % 3)]
        row = [*task.vocab.encode(words), EOS_ID]
        completions[i, :len(row)] = torch.tensor(row)
    mask = completion_mask(completions)
    rewards = task.reward(prompts, completions, mask)
    assert ((rewards != 0) <= (mask > 0)).all()      # nothing paid outside the mask
    hyps = task.decode(completions)
    fn = sacrebleu.sentence_bleu if metric == "bleu" else sacrebleu.sentence_chrf
    expected = torch.tensor([fn(h, [r]).score / 100 for h, r in zip(hyps, refs)])
    assert torch.allclose(rewards.sum(1), expected, atol=1e-6)
    assert rewards.sum(1)[0] == pytest.approx(1.0)  # the exact reference scores 100


def test_metric_helpers_match_sacrebleu_on_arbitrary_strings():
    hyps, refs = ["la kato vidas", "hundo", ""], ["la kato muson vidas", "la hundo vidas", "x y"]
    assert torch.allclose(sentence_bleu(hyps, refs),
                          torch.tensor([sacrebleu.sentence_bleu(h, [r]).score / 100 for h, r in zip(hyps, refs)]))
    assert torch.allclose(sentence_chrf(hyps, refs),
                          torch.tensor([sacrebleu.sentence_chrf(h, [r]).score / 100 for h, r in zip(hyps, refs)]))


def test_empty_reference_is_an_error():
    with pytest.raises(ValueError, match=r"references\[1\] is empty"):
        sentence_bleu(["a", "b"], ["a", "  "])


def test_sequence_reward_sits_on_last_valid_token():
    mask = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    out = at_last_token(torch.tensor([5.0, 7.0]), mask)
    assert out.tolist() == [[5.0, 0.0, 0.0], [0.0, 0.0, 7.0]]


def test_fluency_reward_prefers_grammatical_text():
    task = pg.make_task("fluency", n_sentences=400, lm_steps=150)
    v = task.vocab
    prompts = torch.tensor([[1, v.index["the"]]] * 2)
    good = v.encode("cat sees a dog") + [EOS_ID]
    bad = v.encode("dog dog sees sees") + [EOS_ID]
    completions = torch.tensor([good + [PAD_ID] * (task.max_new_tokens - len(good)),
                                bad + [PAD_ID] * (task.max_new_tokens - len(bad))])
    mask = (torch.arange(task.max_new_tokens) < 5).float().expand(2, -1)
    r = task.reward(prompts, completions, mask).sum(1)
    assert r[0] > r[1] + 1.0
    assert (r <= 0).all()   # a mean log-likelihood is never positive
    # it matches the definition: mean log-prob of the 5 valid tokens under the reference LM
    lp = pg.token_logprobs(task.lm, prompts, completions).logprobs
    assert torch.allclose(r, (lp * mask).sum(1) / 5, atol=1e-5)


def test_fluency_adds_to_another_task():
    flu = pg.make_task("fluency", n_sentences=400, lm_steps=150)
    base = pg.make_task("translate", n_pairs=600)
    with pytest.raises(ValueError, match="vocab_size"):
        base.plus(FluencyReward(flu.lm, use_prompt=False))
    extra = base.fluency_reward(lm_steps=100)
    combo = base.plus(extra, coef=0.5)
    assert combo.name == "translate+fluency"
    g = torch.Generator().manual_seed(0)
    p = combo.sample_prompts(3, g)
    c = torch.full((3, combo.max_new_tokens), EOS_ID)
    m = torch.zeros(3, combo.max_new_tokens); m[:, 0] = 1
    # independently: a one-token completion "<eos>" scores log p_ref(<eos> | <bos>) on its only token
    with torch.no_grad():
        log_p_eos = torch.log_softmax(extra.lm(torch.tensor([[BOS_ID]]))[0, -1], -1)[EOS_ID]
    expected = base.reward(p, c, m)
    expected[:, 0] += 0.5 * log_p_eos
    assert log_p_eos < -0.01                              # the extra term is not zero …
    assert torch.allclose(combo.reward(p, c, m), expected, atol=1e-5)   # … and it is added with its coef
