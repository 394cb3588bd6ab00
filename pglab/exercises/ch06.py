"""Exercises for chapter 06 (text rewards and applications): the per-token KL penalty of Eq. 6.2, a
sentence chrF reward paid on the last token, the exact optimum π* ∝ π_ref·exp(R/β) of the
KL-regularised objective, and a prediction about how β moves that optimum.

Tensor conventions as in :mod:`pglab.advantages`: ``rewards[i, t]``, ``logprobs[i, t]`` =
log π_θ(a_t|s_t) and ``ref_logprobs[i, t]`` = log π_ref(a_t|s_t) of sample i; ``mask[i, t]`` is 1 on
the tokens actually written (up to and including ``<eos>``) and 0 after it.
"""
from __future__ import annotations

import torch

from ..vocab import EOS_ID, PAD_ID, Vocab
from .ch04 import BT
from .core import Case, ChoiceQuestion, Exercise, mistake, symptom


def _mask(lengths: list[int], T: int) -> torch.Tensor:
    return (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).float()


def _ragged(B: int, T: int, g: torch.Generator) -> torch.Tensor:
    lengths = torch.randint(1, T + 1, (B,), generator=g).tolist()
    lengths[0] = T
    if B > 1 and T > 1:
        lengths[1] = int(torch.randint(1, T, (1,), generator=g))
    return _mask(lengths, T)


def _rand(lo: float, hi: float, g: torch.Generator) -> float:
    return round(lo + (hi - lo) * float(torch.rand(1, generator=g)), 2)


# ---------------------------------------------------------------------------------------------------------------
# 6.1 The KL penalty per token, Eq. 6.2:  r'_t = r_t − β (log π_θ(a_t|s_t) − log π_ref(a_t|s_t)),  0 after <eos>.

def kl_penalised_rewards(rewards: torch.Tensor, logprobs: torch.Tensor, ref_logprobs: torch.Tensor,
                         mask: torch.Tensor, beta: float) -> torch.Tensor:
    """Reference (as the ``kl_coef`` step of :func:`pglab.algos.reinforce.step`)."""
    return (rewards - beta * (logprobs - ref_logprobs)) * mask


def _kl_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    sizes = [(2, 3, _rand(0.05, 0.5, g)), (3, 4, _rand(0.05, 0.5, g)), (2, 6, _rand(0.05, 0.5, g)),
             (4, 2, _rand(0.05, 0.5, g)), (2, 4, 0.0), (2, 50, _rand(0.05, 0.5, g))]   # then β = 0, a long T
    for B, T, beta in sizes:
        mask = _ragged(B, T, g)
        rewards = (torch.round(torch.rand(B, T, generator=g) * 4) / 4) * mask
        logits = torch.randn(B, T, 6, generator=g)
        ids = torch.randint(0, 6, (B, T, 1), generator=g)
        logprobs = torch.log_softmax(logits, -1).gather(-1, ids)[..., 0]             # log π(a_t|s_t) < 0
        ref_logprobs = torch.log_softmax(logits + torch.randn(B, T, 6, generator=g), -1).gather(-1, ids)[..., 0]
        out.append(Case(f"B={B}, T={T}, beta={beta}", {"rewards": rewards, "logprobs": logprobs,
                                                       "ref_logprobs": ref_logprobs, "mask": mask, "beta": beta}))
    return out


def _kl_sign(rewards, logprobs, ref_logprobs, mask, beta):
    return (rewards + beta * (logprobs - ref_logprobs)) * mask


def _kl_probs(rewards, logprobs, ref_logprobs, mask, beta):
    return (rewards - beta * (logprobs.exp() - ref_logprobs.exp())) * mask


def _kl_ratio(rewards, logprobs, ref_logprobs, mask, beta):
    return (rewards - beta * (logprobs - ref_logprobs).exp()) * mask


def _kl_no_mask(rewards, logprobs, ref_logprobs, mask, beta):
    return rewards - beta * (logprobs - ref_logprobs)


def _kl_at_end(rewards, logprobs, ref_logprobs, mask, beta):
    kl = ((logprobs - ref_logprobs) * mask).sum(1)                                   # Σ_t over the completion
    out = (rewards * mask).clone()
    out[torch.arange(len(out)), mask.sum(1).long() - 1] -= beta * kl
    return out


def _kl_token_mean(rewards, logprobs, ref_logprobs, mask, beta):
    n = mask.sum(1, keepdim=True)
    return (rewards - beta * (logprobs - ref_logprobs) / n) * mask


def _kl_no_beta(rewards, logprobs, ref_logprobs, mask, beta):
    return (rewards - (logprobs - ref_logprobs)) * mask


KL_PENALTY = Exercise(
    name="ch06_kl_penalty", chapter=6, title="The KL penalty per token", function="kl_penalised_rewards",
    minutes=6, difficulty="easy", reference=kl_penalised_rewards, cases=_kl_cases,
    diagnoses=[
        mistake("sign",
                "the penalty has the wrong sign: you *added* β(log π − log π_ref), which rewards the policy for "
                "moving away from the reference. Eq. 6.2 subtracts it: r'_t = r_t − β(log π − log π_ref) "
                "(equivalently, adds β(log π_ref − log π)).", _kl_sign),
        mistake("probabilities",
                "you used probabilities, exp(log π) − exp(log π_ref): the KL is an expectation of the *log*-ratio. "
                "Use the log-probs as given: β(log π − log π_ref).", _kl_probs),
        mistake("ratio",
                "you subtracted the ratio π/π_ref = exp(log π − log π_ref): the penalty is its logarithm, "
                "log π − log π_ref (0 where the two agree, not 1).", _kl_ratio),
        mistake("no_mask",
                "the positions after <eos> are not 0: the policy's log-probs there belong to padding, not to the "
                "completion. Multiply by the mask.", _kl_no_mask),
        mistake("at_end",
                "you paid the whole completion's KL on its last token: that has the same sum, but Eq. 6.2 "
                "penalises every token where it is written, r'_t = r_t − β(log π(a_t|s_t) − log π_ref(a_t|s_t)), "
                "so reward-to-go credits each token with the penalties from t on.", _kl_at_end),
        mistake("token_mean",
                "you divided the penalty by the completion's length: the KL over whole completions is the *sum* "
                "of the per-token log-ratios (the chain rule of the KL), not their mean.", _kl_token_mean),
        mistake("no_beta",
                "your penalty is not multiplied by β: the weight of the KL is the coefficient beta.", _kl_no_beta),
    ],
    **BT,
)


# ---------------------------------------------------------------------------------------------------------------
# 6.2 A sentence chrF reward: chrF / 100 of the detokenised completion against its reference, paid on the last
# valid token (pglab.rewards.sentence_chrf + at_last_token, as the dialogue task of chapter 06 §3).

def chrf_rewards(completion_ids: torch.Tensor, mask: torch.Tensor, references: list[str], vocab) -> torch.Tensor:
    """Reference: detokenise with ``vocab.decode`` (stops at <eos>), sacrebleu's sentence chrF / 100, on the last token."""
    import sacrebleu
    B, T = completion_ids.shape
    out = torch.zeros(B, T)
    for i in range(B):
        hyp = vocab.decode(completion_ids[i].tolist())
        score = sacrebleu.sentence_chrf(hyp, [references[i]]).score / 100      # chrF in [0, 1]
        out[i, int(mask[i].sum()) - 1] = score                                 # paid on the last valid token
    return out


_DIALOGUE: tuple | None = None


def _dialogue():
    """A small fixed vocabulary and (line, response) pairs of chapter 06's dialogue toy (deterministic)."""
    global _DIALOGUE
    if _DIALOGUE is None:
        from ..tasks.dialogue import dialogue_corpus
        from ..tasks.toylang import Grammar
        pairs = dialogue_corpus(Grammar(), 60, seed=0)
        words = sorted({w for _, resp in pairs for w in resp.split()})
        _DIALOGUE = (Vocab(words), [resp for _, resp in pairs])
    return _DIALOGUE


def _perturb(words: list[str], vocab: Vocab, g: torch.Generator) -> list[str]:
    """A plausible sampled reply: the reference with a word dropped, swapped or replaced, sometimes exact."""
    words = list(words)
    kind = int(torch.randint(0, 4, (1,), generator=g))
    j = int(torch.randint(0, len(words), (1,), generator=g))
    if kind == 1 and len(words) > 1:
        del words[j]
    elif kind == 2:
        words[j] = vocab.tokens[int(torch.randint(3, len(vocab), (1,), generator=g))]
    elif kind == 3 and len(words) > 1:
        words = words[1:] + words[:1]
    return words


def _chrf_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    vocab, responses = _dialogue()
    out = []
    for B in (2, 3, 4):
        refs = [responses[int(torch.randint(0, len(responses), (1,), generator=g))] for _ in range(B)]
        hyps = [_perturb(r.split(), vocab, g) for r in refs]
        hyps[-1] = hyps[-1][: int(torch.randint(0, 2, (1,), generator=g))]     # a short or empty reply
        T = max(len(h) for h in hyps) + 2
        ids = torch.full((B, T), PAD_ID, dtype=torch.long)
        mask = torch.zeros(B, T)
        for i, h in enumerate(hyps):
            n = len(h)
            ids[i, :n] = torch.tensor(vocab.encode(h), dtype=torch.long) if n else ids[i, :0]
            ids[i, n] = EOS_ID
            mask[i, : n + 1] = 1.0
        out.append(Case(f"B={B}, T={T}: " + " | ".join(vocab.decode(r.tolist()) or "(empty)" for r in ids),
                        {"completion_ids": ids, "mask": mask, "references": refs, "vocab": vocab}))
    return out


def _chrf_with(completion_ids, mask, references, vocab, *, text=None, score=None, spread="last"):
    import sacrebleu
    B, T = completion_ids.shape
    out = torch.zeros(B, T)
    for i in range(B):
        ids = completion_ids[i].tolist()
        hyp = vocab.decode(ids) if text is None else text(ids, vocab)
        s = (score or (lambda h, r: sacrebleu.sentence_chrf(h, [r]).score / 100))(hyp, references[i])
        n = int(mask[i].sum())
        if spread == "last":
            out[i, n - 1] = s
        elif spread == "column":
            out[i, T - 1] = s
        elif spread == "after":
            out[i, n] = s
        elif spread == "all":
            out[i, :n] = s
        else:
            out[i, 0] = s
    return out


def _chrf_token_ids(completion_ids, mask, references, vocab):             # scored the ids, not the words
    return _chrf_with(completion_ids, mask, references, vocab,
                      text=lambda ids, v: " ".join(str(i) for i, m in zip(ids, range(len(ids))) if i not in (PAD_ID,)))


def _chrf_ids_symptom(inputs, got, expected) -> bool:
    """got equals chrF of some rendering of the token ids (with or without specials)."""
    import sacrebleu
    got = torch.as_tensor(got, dtype=torch.float64)
    ids, mask, refs = inputs["completion_ids"], inputs["mask"], inputs["references"]
    renders = [lambda row, n: " ".join(str(i) for i in row),
               lambda row, n: " ".join(str(i) for i in row[:n]),
               lambda row, n: " ".join(str(i) for i in row[:n - 1]),
               lambda row, n: str(row[:n]), lambda row, n: str(row)]
    for render in renders:
        cand = torch.zeros_like(got)
        for i in range(len(refs)):
            n = int(mask[i].sum())
            s = sacrebleu.sentence_chrf(render(ids[i].tolist(), n), [refs[i]]).score
            cand[i, n - 1] = s / 100
        if torch.allclose(got, cand, atol=1e-5) or torch.allclose(got, cand * 100, atol=1e-3):
            return True
    return False


def _chrf_swapped(completion_ids, mask, references, vocab):
    import sacrebleu
    return _chrf_with(completion_ids, mask, references, vocab,
                      score=lambda h, r: sacrebleu.sentence_chrf(r, [h]).score / 100 if h else 0.0)


def _chrf_swapped_symptom(inputs, got, expected) -> bool:
    import sacrebleu
    got = torch.as_tensor(got, dtype=torch.float64)
    ids, mask, refs, vocab = (inputs[k] for k in ("completion_ids", "mask", "references", "vocab"))
    cand = torch.zeros_like(got)
    for i in range(len(refs)):
        hyp = vocab.decode(ids[i].tolist())
        cand[i, int(mask[i].sum()) - 1] = sacrebleu.sentence_chrf(refs[i], [hyp]).score / 100
    return bool(torch.allclose(got, cand, atol=1e-5) or torch.allclose(got, 100 * cand, atol=1e-3))


def _chrf_plus_plus_symptom(inputs, got, expected) -> bool:     # chrF++: word n-grams too (word_order=2)
    import sacrebleu
    got = torch.as_tensor(got, dtype=torch.float64)
    ids, mask, refs, vocab = (inputs[k] for k in ("completion_ids", "mask", "references", "vocab"))
    cand = torch.zeros_like(got)
    for i in range(len(refs)):
        hyp = vocab.decode(ids[i].tolist())
        cand[i, int(mask[i].sum()) - 1] = sacrebleu.sentence_chrf(hyp, [refs[i]], word_order=2).score / 100
    return bool(torch.allclose(got, cand, atol=1e-5) or torch.allclose(got, 100 * cand, atol=1e-3))


def _chrf_last_column(completion_ids, mask, references, vocab):   # column T − 1, whatever the row's length
    return _chrf_with(completion_ids, mask, references, vocab, spread="column")


def _chrf_after_eos(completion_ids, mask, references, vocab):     # index mask.sum(): one past <eos>
    return _chrf_with(completion_ids, mask, references, vocab, spread="after")


def _chrf_percent(completion_ids, mask, references, vocab):
    return 100 * chrf_rewards(completion_ids, mask, references, vocab)


def _chrf_every_token(completion_ids, mask, references, vocab):
    return _chrf_with(completion_ids, mask, references, vocab, spread="all")


def _chrf_first_token(completion_ids, mask, references, vocab):
    return _chrf_with(completion_ids, mask, references, vocab, spread="first")


def _chrf_specials(completion_ids, mask, references, vocab):              # "<eos> <pad>" decoded as words
    return _chrf_with(completion_ids, mask, references, vocab, text=lambda ids, v: " ".join(v.tokens[i] for i in ids))


def _chrf_specials_symptom(inputs, got, expected) -> bool:
    import sacrebleu
    got = torch.as_tensor(got, dtype=torch.float64)
    ids, mask, refs, vocab = (inputs[k] for k in ("completion_ids", "mask", "references", "vocab"))
    for upto in ("all", "mask"):
        cand = torch.zeros_like(got)
        for i in range(len(refs)):
            n = int(mask[i].sum())
            row = ids[i].tolist() if upto == "all" else ids[i].tolist()[:n]
            cand[i, n - 1] = sacrebleu.sentence_chrf(" ".join(vocab.tokens[j] for j in row), [refs[i]]).score / 100
        if torch.allclose(got, cand, atol=1e-5) or torch.allclose(got, 100 * cand, atol=1e-3):
            return True
    return False


def _chrf_bleu(completion_ids, mask, references, vocab):
    import sacrebleu
    return _chrf_with(completion_ids, mask, references, vocab,
                      score=lambda h, r: sacrebleu.sentence_bleu(h, [r], smooth_method="exp").score / 100)


def _chrf_bleu_symptom(inputs, got, expected) -> bool:
    import sacrebleu
    got = torch.as_tensor(got, dtype=torch.float64)
    ids, mask, refs, vocab = (inputs[k] for k in ("completion_ids", "mask", "references", "vocab"))
    for kwargs in ({"smooth_method": "exp"}, {"smooth_method": "none"}, {}):
        cand = torch.zeros_like(got)
        for i in range(len(refs)):
            hyp = vocab.decode(ids[i].tolist())
            cand[i, int(mask[i].sum()) - 1] = sacrebleu.sentence_bleu(hyp, [refs[i]], **kwargs).score / 100
        if torch.allclose(got, cand, atol=1e-5) or torch.allclose(got, 100 * cand, atol=1e-3):
            return True
    return False


CHRF = Exercise(
    name="ch06_chrf_reward", chapter=6, title="A sentence chrF reward on the last token", function="chrf_rewards",
    minutes=10, difficulty="medium", reference=chrf_rewards, cases=_chrf_cases,
    diagnoses=[
        mistake("percent",
                "your rewards are 100 times too large: sacrebleu reports chrF on 0–100; pglab's rewards share a "
                "0–1 scale (divide by 100) so that rewards and learning rates of different metrics are comparable.",
                _chrf_percent),
        symptom("token_ids",
                "you scored the token *ids* ('5 9 12') instead of the words: chrF compares characters, and the "
                "characters of ids mean nothing. Detokenise first with vocab.decode(ids), which also stops at "
                "<eos> and drops the padding.", _chrf_ids_symptom),
        symptom("specials",
                "the text you scored contains '<eos>' or '<pad>': decode with vocab.decode(ids) (it stops at the "
                "first <eos> and skips padding), not by joining vocab.tokens of every id.", _chrf_specials_symptom),
        symptom("swapped",
                "hypothesis and reference are swapped: sacrebleu.sentence_chrf(hypothesis, [reference]). chrF weighs "
                "recall twice as much as precision (its β = 2), so the order matters.", _chrf_swapped_symptom),
        symptom("bleu",
                "this is BLEU, not chrF: sacrebleu.sentence_chrf counts character n-grams (a word with the wrong "
                "ending still earns credit), BLEU counts whole-word n-grams.", _chrf_bleu_symptom),
        mistake("every_token",
                "you paid the sentence's score on every token: the reward of a whole completion is paid once, on "
                "its last valid token (<eos>), as pglab.rewards.at_last_token does. Otherwise a long reply collects "
                "it many times.", _chrf_every_token),
        mistake("first_token",
                "you paid the score on the first token: a sentence reward is known only when the sentence is "
                "finished, so it goes on the last valid token (index mask.sum() − 1).", _chrf_first_token),
        mistake("after_eos",
                "you paid the score one position after <eos> (index mask.sum()): that position is padding, "
                "outside the completion, and the mask zeroes it. The last valid token — the <eos> itself — has "
                "index mask.sum() − 1.", _chrf_after_eos),
        mistake("last_column",
                "you paid the score in the last column (index T − 1) of every row: rows are padded to the "
                "longest, so for a shorter completion that is padding. Each row's last valid token has index "
                "mask[i].sum() − 1.", _chrf_last_column),
        symptom("chrf_plus_plus",
                "this is chrF++ (word_order=2: word unigrams and bigrams on top of the characters): the exercise "
                "asks for plain chrF, sacrebleu.sentence_chrf(hypothesis, [reference]) with its default "
                "word_order=0 — pglab.rewards.sentence_chrf's score.", _chrf_plus_plus_symptom),
    ],
    **BT,
)


# ---------------------------------------------------------------------------------------------------------------
# 6.3 The optimum of the KL-regularised objective, Eq. 6.4:  π*(τ|x) = π_ref(τ|x) exp(R(τ)/β) / Z_β(x).

def kl_optimum(ref_logprobs: torch.Tensor, rewards: torch.Tensor, beta: float) -> torch.Tensor:
    """Reference (as :func:`pglab.exact.kl_regularised_optimum`): a softmax of log π_ref + R/β over each prompt's completions."""
    return torch.softmax(ref_logprobs + rewards / beta, dim=-1)                   # exp(·) / Z_β(x), stably


def _opt_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for P, N, beta in [(1, 3, 1.0), (2, 4, _rand(0.2, 0.6, g)), (3, 5, _rand(1.5, 3.0, g)), (2, 6, 0.01)]:
        ref_logprobs = torch.log_softmax(torch.randn(P, N, generator=g), -1)       # log π_ref(τ|x), one row per prompt
        rewards = torch.round(torch.rand(P, N, generator=g) * 4) / 4               # R(τ) in [0, 1]
        rewards[:, 0] = 1.0                                                        # a top-reward completion per prompt
        out.append(Case(f"{P} prompt(s) x {N} completions, beta={beta}",
                        {"ref_logprobs": ref_logprobs, "rewards": rewards, "beta": beta}))
    return out


def _opt_beta_times(ref_logprobs, rewards, beta):
    return torch.softmax(ref_logprobs + beta * rewards, -1)


def _opt_unnormalised(ref_logprobs, rewards, beta):
    return torch.exp(ref_logprobs + rewards / beta)


def _opt_unnormalised_symptom(inputs, got, expected) -> bool:
    """got is proportional to expected within each prompt but its rows do not sum to 1."""
    got = torch.as_tensor(got, dtype=torch.float64)
    if got.shape != expected.shape or not torch.isfinite(got).all() or (got <= 0).any():
        return False
    rows = got.sum(-1, keepdim=True)
    return bool(torch.allclose(got / rows, expected.double(), atol=1e-5) and not torch.allclose(rows, torch.ones_like(rows)))


def _opt_overflow(inputs, got, expected) -> bool:
    got = torch.as_tensor(got, dtype=torch.float64)
    return got.shape == expected.shape and not torch.isfinite(got).all() and inputs["beta"] < 0.1


def _opt_no_ref(ref_logprobs, rewards, beta):
    return torch.softmax(rewards / beta, -1)


def _opt_joint(ref_logprobs, rewards, beta):
    return torch.softmax((ref_logprobs + rewards / beta).flatten(), 0).view_as(rewards)


def _opt_wrong_dim(ref_logprobs, rewards, beta):
    return torch.softmax(ref_logprobs + rewards / beta, 0)


def _opt_log(ref_logprobs, rewards, beta):
    return torch.log_softmax(ref_logprobs + rewards / beta, -1)


def _opt_ref_not_log(ref_logprobs, rewards, beta):             # π_ref + R/β in the exponent: exp(π_ref) ≠ π_ref
    return torch.softmax(ref_logprobs.exp() + rewards / beta, -1)


OPTIMUM = Exercise(
    name="ch06_kl_optimum", chapter=6, title="The optimum π* ∝ π_ref · exp(R/β)", function="kl_optimum",
    minutes=8, difficulty="medium", reference=kl_optimum, cases=_opt_cases,
    diagnoses=[
        mistake("exp_beta_r",
                "you used exp(β R): the optimum divides the reward by β, π* ∝ π_ref · exp(R/β). A large β must "
                "keep π* near π_ref (the penalty dominates), a small β push it onto the best completions.",
                _opt_beta_times),
        symptom("overflow",
                "inf or NaN at a small β: exp(R/β) overflows (exp(100) is beyond float32). Work with logarithms — "
                "log π_ref + R/β, then subtract each row's maximum (or use torch.softmax / logsumexp) before "
                "exponentiating.", _opt_overflow),
        mistake("no_reference",
                "you left π_ref out: softmax(R/β) is the optimum against a *uniform* reference. The KL is to π_ref, "
                "so π* ∝ π_ref · exp(R/β): add log π_ref inside the softmax.", _opt_no_ref),
        mistake("joint",
                "you normalised over all prompts at once: π*(·|x) is a distribution for *each* prompt x, so each "
                "row must sum to 1 (softmax over dim=-1).", _opt_joint),
        mistake("wrong_dim",
                "you normalised over the prompts (dim 0), not over each prompt's completions (the last dim).",
                _opt_wrong_dim),
        symptom("unnormalised",
                "right shape, wrong scale: your probabilities do not sum to 1 over each prompt's completions. "
                "Divide by Z_β(x) = Σ_τ π_ref(τ|x) exp(R(τ)/β), one normaliser per prompt (row).",
                _opt_unnormalised_symptom),
        mistake("log",
                "you returned log π*: the exercise asks for the probabilities π*(τ|x) (exponentiate).", _opt_log),
        mistake("ref_not_log",
                "you added the probability π_ref to R/β inside the exponent: exp(π_ref + R/β) is not "
                "π_ref · exp(R/β). The inputs are *log*-probabilities: add log π_ref as given.", _opt_ref_not_log),
    ],
    shape="(P, N)", shape_means="one value per prompt (row) and completion (column)",
)


# ---------------------------------------------------------------------------------------------------------------
# 6.4 Predict, then measure: how β moves π*.

PREDICT = ChoiceQuestion(
    name="ch06_predict_beta", chapter=6, title="Predict, then measure: KL(π* ‖ π_ref) as β grows",
    variable="answer_beta", minutes=5, difficulty="easy",
    choices={"A": "it grows: a larger β makes the penalty matter more, so π* moves further",
             "B": "it falls towards 0",
             "C": "it does not depend on β"},
    answer="B",
    explanations={
        "A": "β multiplies the *penalty*: a larger β makes moving away from π_ref more expensive. Look at the "
             "KL column you measured, and at exp(R/β) as β grows.",
        "C": "β is in the exponent, π* ∝ π_ref · exp(R/β): look at the KL column you measured.",
    },
)

EXERCISES = [KL_PENALTY, CHRF, OPTIMUM, PREDICT]
