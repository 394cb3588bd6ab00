"""Two toy languages and the rules that translate one into the other.

*Source* is English-like, subject–verb–object, with number agreement:

    the big cats chase a mouse

*Target* is verb-final (SOV), puts adjectives after nouns, marks plural with
``-j`` and the object with ``-n`` on nouns *and* adjectives, drops the
indefinite article and makes the verb agree with the subject's number:

    la katoj grandaj muson casan

Every sentence is built by a tiny grammar from a ``torch.Generator`` so the
corpus is the same on every machine; :func:`translate` is the exact rule that
produces the reference, so the "parallel corpus" is correct by construction.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

# source word -> target stem
NOUNS = {"cat": "kato", "dog": "hundo", "bird": "birdo", "fish": "fiso",
         "fox": "vulpo", "horse": "kavalo", "mouse": "muso", "frog": "rano"}
PLURALS = {"cat": "cats", "dog": "dogs", "bird": "birds", "fish": "fishes",
           "fox": "foxes", "horse": "horses", "mouse": "mice", "frog": "frogs"}
ADJECTIVES = {"big": "granda", "small": "eta", "red": "ruga", "old": "olda",
              "quick": "rapida", "happy": "gaja"}
VERBS = {"see": "vid", "like": "sat", "chase": "cas", "find": "trov",
         "bite": "mord", "hear": "aud"}
DETERMINERS = {"singular": ("the", "a"), "plural": ("the", "some")}
TARGET_DET = {"the": "la", "a": None, "some": "iuj"}


@dataclass(frozen=True)
class Phrase:
    """A noun phrase: determiner, optional adjective, noun, number."""
    det: str
    adj: str | None
    noun: str
    plural: bool


@dataclass(frozen=True)
class Grammar:
    """Sizes of the toy lexicon (the first n entries of each word list) and the
    probability that a noun phrase carries an adjective."""
    n_nouns: int = 8
    n_adjectives: int = 6
    n_verbs: int = 6
    adjective_prob: float = 0.5

    def __post_init__(self) -> None:
        for name, value, top in (("n_nouns", self.n_nouns, len(NOUNS)),
                                 ("n_adjectives", self.n_adjectives, len(ADJECTIVES)),
                                 ("n_verbs", self.n_verbs, len(VERBS))):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise ValueError(f"{name} must be an integer in [1, {top}], got {value!r}")
        if not 0.0 <= self.adjective_prob <= 1.0:
            raise ValueError(f"adjective_prob must be in [0, 1], got {self.adjective_prob!r}")

    @property
    def nouns(self) -> list[str]:
        return list(NOUNS)[: self.n_nouns]

    @property
    def adjectives(self) -> list[str]:
        return list(ADJECTIVES)[: self.n_adjectives]

    @property
    def verbs(self) -> list[str]:
        return list(VERBS)[: self.n_verbs]

    def max_source_words(self) -> int:
        return 7  # det adj noun verb det adj noun

    def source_words(self) -> list[str]:
        words = ["the", "a", "some", *self.adjectives]
        words += [w for n in self.nouns for w in (n, PLURALS[n])]
        words += [w for v in self.verbs for w in (v, v + "s")]
        return words

    def target_words(self) -> list[str]:
        stems = [NOUNS[n] for n in self.nouns] + [ADJECTIVES[a] for a in self.adjectives]
        words = ["la", "iuj"] + [s + suf for s in stems for suf in ("", "j", "n", "jn")]
        return words + [VERBS[v] + suf for v in self.verbs for suf in ("as", "an")]


def _pick(options: list, generator: torch.Generator):
    return options[int(torch.randint(len(options), (1,), generator=generator))]


def sample_phrase(grammar: Grammar, generator: torch.Generator) -> Phrase:
    """Draw one noun phrase from the grammar."""
    plural = bool(torch.rand(1, generator=generator) < 0.5)
    det = _pick(list(DETERMINERS["plural" if plural else "singular"]), generator)
    has_adj = bool(torch.rand(1, generator=generator) < grammar.adjective_prob)
    adj = _pick(grammar.adjectives, generator) if has_adj else None
    return Phrase(det, adj, _pick(grammar.nouns, generator), plural)


def sample_sentence(grammar: Grammar, generator: torch.Generator) -> tuple[Phrase, str, Phrase]:
    """Draw (subject, verb, object)."""
    subject = sample_phrase(grammar, generator)
    verb = _pick(grammar.verbs, generator)
    return subject, verb, sample_phrase(grammar, generator)


def render_source(sentence: tuple[Phrase, str, Phrase]) -> str:
    """English-like SVO surface form; the verb takes -s after a singular subject."""
    subject, verb, obj = sentence

    def np(p: Phrase) -> list[str]:
        return [p.det] + ([p.adj] if p.adj else []) + [PLURALS[p.noun] if p.plural else p.noun]

    return " ".join(np(subject) + [verb if subject.plural else verb + "s"] + np(obj))


def translate(sentence: tuple[Phrase, str, Phrase]) -> str:
    """The reference translation: SOV, adjective after noun, -j plural, -n object case."""
    subject, verb, obj = sentence

    def np(p: Phrase, accusative: bool) -> list[str]:
        suffix = ("j" if p.plural else "") + ("n" if accusative else "")
        det = TARGET_DET[p.det]
        words = ([det] if det else []) + [NOUNS[p.noun] + suffix]
        return words + ([ADJECTIVES[p.adj] + suffix] if p.adj else [])

    ending = "an" if subject.plural else "as"
    return " ".join(np(subject, False) + np(obj, True) + [VERBS[verb] + ending])


def parallel_corpus(grammar: Grammar, n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` distinct (source, reference) pairs, deterministic in ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    pairs: dict[str, str] = {}
    attempts = 0
    while len(pairs) < n:
        attempts += 1
        if attempts > 50 * n:
            raise ValueError(f"the grammar has too few distinct sentences for n_pairs={n}")
        sentence = sample_sentence(grammar, generator)
        pairs.setdefault(render_source(sentence), translate(sentence))
    return list(pairs.items())
