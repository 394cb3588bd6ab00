"""Exercise 6.2: a sentence chrF reward paid on the last valid token, its reference, its cases and its hints.

The completion's ids are detokenised with ``vocab.decode`` (which stops at ``<eos>``), scored with sacrebleu's
sentence chrF against the reference and divided by 100, and the score is paid on the last valid token — as
:func:`pglab.rewards.sentence_chrf` and ``at_last_token`` do for the dialogue task of chapter 06 §3. The
cases are replies of that task's toy dialogue, perturbed (a word dropped, swapped or replaced). The
diagnoses catch the ids scored instead of the words, hypothesis and reference swapped, chrF++ instead of
chrF, the score paid on the wrong column (the last one, one past ``<eos>``, every token, the first), the
percentage, the special tokens decoded as words, and BLEU instead of chrF.
"""
from __future__ import annotations

import torch

from ...vocab import EOS_ID, PAD_ID, Vocab
from ..ch04 import BT
from ..function import Case, Exercise, mistake, symptom


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
        from ...tasks.dialogue import dialogue_corpus
        from ...tasks.toylang import Grammar
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
