"""Exercises for chapter 01 (language models as policies): the log-probability of a completion from
per-token logits (Eq. 1.2), sentence BLEU on token ids that must be detokenised first, the objective
J(θ) by enumeration on a two-token problem (Eq. 1.4), and a prediction about log p_θ(τ | x) and length.

Conventions as in :mod:`pglab.rollout`: ``logits[i, t]`` scores completion token t of row i,
``completion_ids`` hold ``<pad>`` (0) after ``<eos>`` (2), ``mask`` is 1 up to and including ``<eos>``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..vocab import EOS_ID, PAD_ID
from .calling import WrongOutput, call
from .choice import ChoiceQuestion
from .function import Case, Exercise, mistake, symptom


def _completion(B: int, T: int, V: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random completions over V tokens: <eos> somewhere in most rows (not in row 0's last slot), <pad> after."""
    ids = torch.randint(3, V, (B, T), generator=g)                       # ordinary tokens
    for i in range(B):
        if i == 0 or torch.rand(1, generator=g) < 0.7:
            end = int(torch.randint(0, max(1, T - 1), (1,), generator=g)) if T > 1 else 0
            ids[i, end] = EOS_ID
            ids[i, end + 1:] = PAD_ID
    eos = (ids == EOS_ID).long()
    mask = ((eos.cumsum(1) - eos) == 0).float()
    return ids, mask


# ---------------------------------------------------------------------------------------------------------------
# 1.1  log p_θ(τ | x) = Σ_t m_t log π_θ(a_t | s_t),  π_θ = softmax(logits)   (Eqs. 1.1, 1.2)

def completion_logprob(logits: torch.Tensor, completion_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    logp = F.log_softmax(logits, dim=-1)                                     # log π_θ(· | s_t)
    taken = logp.gather(-1, completion_ids.unsqueeze(-1)).squeeze(-1)        # log π_θ(a_t | s_t)
    return (taken * mask).sum(1)                                             # Σ_t over the valid tokens


def _logprob_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for B, T, V in [(2, 3, 5), (3, 5, 8), (4, 6, 6), (1, 1, 4), (3, 1, 6), (3, 7, 9)]:
        ids, mask = _completion(B, T, V, g)
        logits = torch.randn(B, T, V, generator=g) * 2
        out.append(Case(f"B={B}, T={T}, V={V}", {"logits": logits, "completion_ids": ids, "mask": mask}))
    return out


def _lp_taken(x, ids):
    return x.gather(-1, ids.unsqueeze(-1)).squeeze(-1)


def _lm_shift(inputs, got, expected) -> bool:
    """got is the language-model shift: logits[:, :-1] scoring ids[:, 1:] (masked by either half of the mask)."""
    logits, ids, mask = inputs["logits"], inputs["completion_ids"], inputs["mask"]
    if ids.shape[1] < 2:
        return False
    got = torch.as_tensor(got, dtype=torch.float64)
    taken = _lp_taken(F.log_softmax(logits[:, :-1].double(), -1), ids[:, 1:])
    return any(got.shape == (taken * m).sum(1).shape and torch.allclose(got, (taken * m).sum(1), atol=1e-5, rtol=1e-4)
               for m in (mask[:, 1:].double(), mask[:, :-1].double()))


def _squeeze_all(logits, completion_ids, mask):
    taken = F.log_softmax(logits, -1).gather(-1, completion_ids.unsqueeze(-1)).squeeze()    # (B,) when T = 1
    return (taken * mask).sum(1)


LOGPROB = Exercise(
    name="ch01_completion_logprob", chapter=1, title="The log-probability of a completion", function="completion_logprob",
    minutes=10, difficulty="easy", reference=completion_logprob, cases=_logprob_cases,
    shape="(B,)", shape_means="one log-probability per completion",
    diagnoses=[
        mistake("raw_logits",
                "you summed the raw logits of the tokens: a logit is not a log-probability. Normalise first, "
                "log π = log_softmax(logits) over the vocabulary (Eq. 1.1), then pick the taken token.",
                lambda logits, completion_ids, mask: (_lp_taken(logits, completion_ids) * mask).sum(1)),
        mistake("probs",
                "you summed probabilities (softmax), not log-probabilities: Eq. (1.2) multiplies probabilities, "
                "so its log sums log π — use log_softmax (more accurate than log(softmax)).",
                lambda logits, completion_ids, mask: (_lp_taken(logits.softmax(-1), completion_ids) * mask).sum(1)),
        mistake("probs_product",
                "you returned the probability p_θ(τ | x) itself (a product), not its log. Return the sum of "
                "log-probabilities: it does not underflow for long completions.",
                lambda logits, completion_ids, mask: completion_logprob(logits, completion_ids, mask).exp()),
        mistake("no_mask",
                "the tokens after <eos> (the <pad> filler, mask 0) are counted: they were never written by the "
                "policy. Multiply by the mask before summing.",
                lambda logits, completion_ids, mask: completion_logprob(logits, completion_ids, torch.ones_like(mask))),
        mistake("wrong_dim",
                "you normalised over the wrong axis: log_softmax must run over the vocabulary (the last dim, "
                "dim=-1), one distribution per position — not over positions or rows.",
                lambda logits, completion_ids, mask: (_lp_taken(F.log_softmax(logits, 1), completion_ids) * mask).sum(1)),
        mistake("mean_not_sum",
                "you averaged over the tokens: log p_θ(τ | x) is a *sum* over the completion's tokens (Eq. 1.2), "
                "not a mean.",
                lambda logits, completion_ids, mask: completion_logprob(logits, completion_ids, mask)
                / mask.sum(1).clamp_min(1)),
        mistake("argmax_token",
                "you scored the most likely token (argmax), not the token the completion actually has: "
                "gather with completion_ids.",
                lambda logits, completion_ids, mask: (F.log_softmax(logits, -1).amax(-1) * mask).sum(1)),
        symptom("lm_shift",
                "you shifted by one, as when training a language model (logits[:, :-1] scoring ids[:, 1:]). Here "
                "no shift is needed: logits[i, t] are already the logits that chose completion token t "
                "(the rollout aligned them), so score completion_ids[i, t] with logits[i, t].", _lm_shift,
                exact=True),
        mistake("squeeze_all",
                "`.squeeze()` without a dimension also removed the T axis when T = 1: the (B,) result then "
                "broadcast against the (B, 1) mask into a (B, B) table. Squeeze only the gathered axis: "
                ".squeeze(-1) (or index [..., 0]).", _squeeze_all),
        symptom("per_token",
                "you returned one number per token, shape (B, T): sum over t to get one log-probability per "
                "completion, shape (B,).",
                lambda inputs, got, expected: tuple(torch.as_tensor(got).shape) == tuple(inputs["mask"].shape)),
    ],
)


# ---------------------------------------------------------------------------------------------------------------
# 1.2  Sentence BLEU on detokenised text

BLEU_WORDS = ["the", "a", "cat", "dog", "sees", "likes", "small", "big", "red", "house", "walk@@ ed", "cat@@ s",
              "play@@ ing", "dog@@ s", "quick@@ ly", "run@@ s"]
"""Words of the BLEU exercise; a piece ending in ``@@`` continues into the next token (``walk@@ ed`` = walked)."""


def bleu_tokens() -> list[str]:
    pieces = []
    for w in BLEU_WORDS:
        for p in w.split():
            if p not in pieces:
                pieces.append(p)
    return ["<pad>", "<bos>", "<eos>", *pieces]


def detokenise(ids: torch.Tensor, tokens: list[str]) -> str:
    """Tokens up to the first <eos>, without <pad>/<bos>, joined; ``@@ `` glues a piece to the next one."""
    out = []
    for i in ids.tolist():
        if i == EOS_ID:
            break
        if i not in (PAD_ID, 1):
            out.append(tokens[i])
    return " ".join(out).replace("@@ ", "")


def bleu_rewards(completion_ids: torch.Tensor, reference_ids: torch.Tensor, tokens: list[str]) -> torch.Tensor:
    import sacrebleu
    hyps = [detokenise(row, tokens) for row in completion_ids]
    refs = [detokenise(row, tokens) for row in reference_ids]
    return torch.tensor([sacrebleu.sentence_bleu(h, [r]).score / 100 for h, r in zip(hyps, refs)])


def _encode(words: list[str], tokens: list[str], T: int) -> torch.Tensor:
    ids = [tokens.index(p) for w in words for p in w.split()] + [EOS_ID]
    return torch.tensor(ids + [PAD_ID] * (T - len(ids)))


def _bleu_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    tokens = bleu_tokens()

    def pick(n):
        return [BLEU_WORDS[int(i)] for i in torch.randint(len(BLEU_WORDS), (n,), generator=g)]
    out = []
    for B in (2, 3, 4):
        refs, hyps = [], []
        for i in range(B):
            ref = pick(int(torch.randint(4, 8, (1,), generator=g)))
            if not any("@@" in w for w in ref):
                ref[int(torch.randint(len(ref), (1,), generator=g))] = "walk@@ ed"
            kind = (i + seed + B) % 4
            if i == 0:
                hyp = ref[::-1]                                   # every word, no word pair: needs smoothing
            elif kind == 0:
                hyp = list(ref)
            elif kind == 1:
                hyp = ref[:-1] + pick(1)
            elif kind == 2:
                hyp = ref[:2]
            else:
                hyp = pick(1) + ref[1:]
            refs.append(ref), hyps.append(hyp)
        T = max(len(" ".join(w).split()) for w in refs + hyps) + 2
        out.append(Case(f"B={B} sentence pairs", {
            "completion_ids": torch.stack([_encode(h, tokens, T) for h in hyps]),
            "reference_ids": torch.stack([_encode(r, tokens, T) for r in refs]),
            "tokens": tokens}))
    return out


def _ids_text(row: torch.Tensor, cut: bool) -> str:
    ids = row.tolist()
    if cut and EOS_ID in ids:
        ids = ids[:ids.index(EOS_ID)]
    return " ".join(str(i) for i in ids)


def _bleu_on_ids(inputs, got, expected) -> bool:
    import sacrebleu
    got = torch.as_tensor(got, dtype=torch.float64).flatten()
    for cut in (True, False):
        for smooth in ("exp", "none"):
            for scale in (100, 1):
                want = torch.tensor([sacrebleu.sentence_bleu(_ids_text(h, cut), [_ids_text(r, cut)],
                                                             smooth_method=smooth).score / scale
                                     for h, r in zip(inputs["completion_ids"], inputs["reference_ids"])],
                                    dtype=torch.float64)
                if got.shape == want.shape and torch.allclose(got, want, atol=1e-4):
                    return True
    return False


def _bleu_variant(*, smooth="exp", join=True, specials=False, corpus=False, scale=100, eos_kept=False,
                  swapped=False, bleu_object=False):
    def fn(completion_ids, reference_ids, tokens):
        import warnings

        import sacrebleu

        def text(row):
            if eos_kept:                                      # up to and including <eos>
                ids = row.tolist()
                return detokenise(row, tokens) + " " + tokens[EOS_ID] if EOS_ID in ids else detokenise(row, tokens)
            if specials:
                s = " ".join(tokens[i] for i in row.tolist())
            else:
                s = detokenise(row, tokens) if join else " ".join(
                    tokens[i] for i in row.tolist()[:row.tolist().index(EOS_ID)] if i not in (0, 1))
            return s.replace("@@ ", "") if (join and specials) else s
        hyps = [text(r) for r in completion_ids]
        refs = [text(r) for r in reference_ids]
        if corpus:
            return torch.full((len(hyps),), sacrebleu.corpus_bleu(hyps, [refs]).score / scale)
        if swapped:
            hyps, refs = refs, hyps
        if bleu_object:                                       # BLEU().sentence_score: effective_order=False
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bleu = sacrebleu.metrics.BLEU()
                return torch.tensor([bleu.sentence_score(h, [r]).score / scale for h, r in zip(hyps, refs)])
        return torch.tensor([sacrebleu.sentence_bleu(h, [r], smooth_method=smooth).score / scale
                             for h, r in zip(hyps, refs)])
    return fn


BLEU = Exercise(
    name="ch01_sentence_bleu", chapter=1, title="Sentence BLEU as a reward", function="bleu_rewards",
    minutes=12, difficulty="medium", reference=bleu_rewards, cases=_bleu_cases,
    shape="(B,)", shape_means="one score per completion",
    diagnoses=[
        symptom("token_ids",
                "you computed BLEU on token ids: BLEU counts *words*, so decode first — a word split into pieces "
                "(walk@@ ed) is one word, and ids of pieces or of <eos>/<pad> are not words of the sentence.",
                _bleu_on_ids),
        mistake("unsmoothed",
                "unsmoothed BLEU: a hypothesis without a matching 4-gram (the reversed sentence) scores exactly 0. "
                "Sentence BLEU needs smoothing — sacrebleu.sentence_bleu's default, smooth_method='exp' "
                "(chapter 01 §4); don't pass smooth_method='none'.", _bleu_variant(smooth="none")),
        mistake("corpus",
                "every completion got the same number: that is corpus BLEU over the batch. A reward scores each "
                "completion: call sacrebleu.sentence_bleu once per pair.", _bleu_variant(corpus=True)),
        mistake("percent",
                "your scores are 100 times too large: sacrebleu reports BLEU in 0–100; pglab's rewards are in "
                "[0, 1] (divide .score by 100).", _bleu_variant(scale=1)),
        mistake("pieces_not_joined",
                "the word pieces were not joined: 'walk@@ ed' must become 'walked' before BLEU counts words "
                "(replace '@@ ' by '').", _bleu_variant(join=False)),
        mistake("no_effective_order",
                "sacrebleu.metrics.BLEU() is set up for corpus BLEU (effective_order=False): a short hypothesis "
                "with no 3- or 4-gram scores 0, and sacrebleu warns about it. For one sentence use "
                "sacrebleu.sentence_bleu(hypothesis, [reference]) as the exercise says: it uses the effective "
                "order and the default 'exp' smoothing (BLEU(effective_order=True) does the same).",
                _bleu_variant(bleu_object=True)),
        mistake("swapped",
                "hypothesis and reference are swapped: BLEU is not symmetric (its precisions count the "
                "hypothesis' n-grams, its brevity penalty punishes a short hypothesis). The completion is the "
                "hypothesis: sentence_bleu(completion_text, [reference_text]).", _bleu_variant(swapped=True)),
        mistake("eos_kept",
                "the text <eos> ended up in the decoded sentence: <eos> marks where the completion ends, it is "
                "not a word. Stop *before* the first <eos>.", _bleu_variant(eos_kept=True)),
        mistake("specials_kept",
                "<eos>/<pad> ended up in the text: stop at the first <eos> and drop <pad> and <bos> when "
                "decoding.", _bleu_variant(specials=True)),
    ],
)


# ---------------------------------------------------------------------------------------------------------------
# 1.3  J(θ) = Σ_{a1, a2} π(a1 | x) π(a2 | x, a1) R(a1, a2)   (Eqs. 1.2, 1.4) on a two-token problem

def expected_return(first_logits: torch.Tensor, second_logits: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    p1 = first_logits.softmax(-1)                    # π(a1 | x), shape (V,)
    p2 = second_logits.softmax(-1)                   # π(a2 | x, a1), row a1, shape (V, V)
    return (p1[:, None] * p2 * rewards).sum()        # Σ p(τ) R(τ) over the V² completions


def _j_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for V in (2, 3, 5, 4):
        out.append(Case(f"V={V}", {"first_logits": torch.randn(V, generator=g) * 1.5,
                                   "second_logits": torch.randn(V, V, generator=g) * 1.5,
                                   "rewards": torch.round(torch.rand(V, V, generator=g) * 4) / 4}))
    return out


def _observe_j(fn, inputs):
    """J must be a 0-dimensional tensor, shape (): a Python float or a shape-(1,) tensor is refused with a hint."""
    out = call(fn, inputs)
    if not isinstance(out, torch.Tensor):
        raise WrongOutput(f"J must be a 0-dimensional torch tensor, shape (), got a {type(out).__name__}",
                          "not_a_tensor",
                          "keep J a tensor — no .item() or float(): a tensor can be differentiated (∇J is chapter "
                          "02's subject). Sum the V² terms with torch operations, e.g. (… ).sum().")
    if out.dim() != 0:
        raise WrongOutput(f"J must be a 0-dimensional tensor, shape () (got shape {tuple(out.shape)})", "not_0dim",
                          "J is one number: sum over *all* the completions, .sum() with no dim, which returns "
                          "shape (); a sum over one dim, keepdim=True or a [None] leaves a dimension behind.")
    return out


def _pairs(first_logits, second_logits):
    return first_logits.softmax(-1)[:, None] * second_logits.softmax(-1)          # p(a1, a2 | x), (V, V)


EXPECTED_RETURN = Exercise(
    name="ch01_expected_return", chapter=1, title="J(θ) by enumeration", function="expected_return",
    minutes=8, difficulty="medium", reference=expected_return, cases=_j_cases, observe=_observe_j,
    diagnoses=[
        mistake("no_softmax",
                "you used logits as probabilities: π = softmax(logits) (Eq. 1.1); logits can be negative and do "
                "not sum to 1.",
                lambda first_logits, second_logits, rewards: (first_logits[:, None] * second_logits * rewards).sum()),
        mistake("wrong_dim",
                "π(a2 | x, a1) is row a1 of second_logits, normalised over a2 (the last dim). You normalised each "
                "column instead (softmax over dim 0).",
                lambda first_logits, second_logits, rewards:
                (first_logits.softmax(-1)[:, None] * second_logits.softmax(0) * rewards).sum()),
        mistake("added_probs",
                "you added the two tokens' probabilities: a completion's probability is their *product* "
                "(Eq. 1.2), p(τ | x) = π(a1 | x) π(a2 | x, a1).",
                lambda first_logits, second_logits, rewards:
                ((first_logits.softmax(-1)[:, None] + second_logits.softmax(-1)) * rewards).sum()),
        mistake("uniform",
                "your J ignores the policy (the plain average reward): weight each completion by p_θ(τ | x).",
                lambda first_logits, second_logits, rewards: rewards.mean()),
        mistake("log_probs",
                "you weighted rewards by log-probabilities: J is an expectation, Σ_τ p_θ(τ) R(τ), with "
                "probabilities (exp of the summed log-probs) as weights.",
                lambda first_logits, second_logits, rewards:
                ((first_logits.log_softmax(-1)[:, None] + second_logits.log_softmax(-1)) * rewards).sum()),
        mistake("mean_not_sum",
                "your J is V² times too small: an expectation is Σ_τ p_θ(τ) R(τ), a *sum* over the V² "
                "completions weighted by their probabilities (which already add up to 1) — .sum(), not .mean().",
                lambda first_logits, second_logits, rewards: (_pairs(first_logits, second_logits) * rewards).mean()),
        mistake("p1_transposed",
                "π(a1 | x) is broadcast along the wrong axis: p1[None, :] multiplies *column* a2 by π(a2 | x). "
                "a1 indexes the rows of second_logits and rewards, so π(a1 | x) must vary down the rows: "
                "p1[:, None] (shape (V, 1)).",
                lambda first_logits, second_logits, rewards:
                (first_logits.softmax(-1)[None, :] * second_logits.softmax(-1) * rewards).sum()),
        mistake("flat_softmax",
                "you took one softmax over all V² entries of second_logits: each row a1 is its own distribution "
                "π(· | x, a1), so normalise each row (softmax over the last dim), not the whole table.",
                lambda first_logits, second_logits, rewards:
                (first_logits.softmax(-1)[:, None] * second_logits.flatten().softmax(0).view_as(second_logits)
                 * rewards).sum()),
        mistake("first_token_only",
                "the second token's probability is missing: p(τ | x) = π(a1 | x) π(a2 | x, a1) — multiply by "
                "softmax(second_logits) too.",
                lambda first_logits, second_logits, rewards: (first_logits.softmax(-1)[:, None] * rewards).sum()),
    ],
)


# ---------------------------------------------------------------------------------------------------------------
# 1.4  Predict, then measure: log p_θ(τ | x) and length

PREDICT_LENGTH = ChoiceQuestion(
    name="ch01_predict_length", chapter=1, title="Which completions are most probable?", variable="predict_length",
    minutes=5, difficulty="easy",
    choices={"A": "the longest completions have the highest log p_θ(τ | x)",
             "B": "the shortest completions have the highest log p_θ(τ | x)",
             "C": "log p_θ(τ | x) is about the same for every length"},
    answer="B",
    explanations={
        "A": "run the measurement: every extra token multiplies p_θ(τ | x) by a probability below 1 "
             "(Eq. 1.2) — what does that do to the log?",
        "C": "run the measurement: compare the mean log p_θ(τ | x) of completions with 1 token and with 4 "
             "tokens. Each token adds its own log π_θ(a_t | s_t) < 0 (Eq. 1.2).",
    },
)

EXERCISES = [LOGPROB, BLEU, EXPECTED_RETURN, PREDICT_LENGTH]
