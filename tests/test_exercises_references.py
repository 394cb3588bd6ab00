"""Classroom exercises, the answers themselves: each reference against an independent route (loops, finite
differences, the package), the masters' solutions pass every check, every question is tested through pglab's checks
(and otter's own test files, run in-process, give the masters full marks), and the "predict, then measure" answer
keys of chapters 01-03 agree with what the measurement cells print."""
from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import pytest
import torch

from pglab.exercises import EXERCISES, Exercise, Feedback, check, require
from pglab.exercises.build import MASTER_DIR, masters
from tests.exercise_fixtures import WRONG, submissions

# ---------------------------------------------------------------------------------------------------------------
# the references themselves, by independent routes (a reference checked against itself proves nothing)

def _cases(name, seeds=range(3)):
    return [c.inputs for s in seeds for c in EXERCISES[name].cases(s)]


def test_ch01_logprob_reference_by_hand():
    for inp in _cases("ch01_completion_logprob"):
        got = EXERCISES["ch01_completion_logprob"].reference(**inp)
        B, T, V = inp["logits"].shape
        for i in range(B):
            total = 0.0
            for t in range(T):
                if inp["mask"][i, t]:
                    z = inp["logits"][i, t].double().tolist()
                    total += z[int(inp["completion_ids"][i, t])] - math.log(sum(math.exp(v) for v in z))
            assert abs(got[i].item() - total) < 1e-4


def test_ch01_bleu_reference_matches_pglab_reward_on_decoded_text():
    from pglab.exercises.ch01 import BLEU_WORDS
    from pglab.rewards import sentence_bleu
    tokens = None
    for inp in _cases("ch01_sentence_bleu"):
        tokens = inp["tokens"]
        words = lambda ids: " ".join(tokens[i] for i in ids.tolist()[:ids.tolist().index(2)]).replace("@@ ", "")  # noqa
        hyps = [words(r) for r in inp["completion_ids"]]
        refs = [words(r) for r in inp["reference_ids"]]
        assert torch.allclose(EXERCISES["ch01_sentence_bleu"].reference(**inp), sentence_bleu(hyps, refs), atol=1e-6)
        assert not any("@@" in h for h in hyps) and any(w.replace("@@ ", "") in " ".join(refs)
                                                         for w in BLEU_WORDS if "@@" in w)


def test_ch01_expected_return_reference_by_loops():
    for inp in _cases("ch01_expected_return"):
        p1 = [math.exp(v) for v in inp["first_logits"].tolist()]
        p1 = [v / sum(p1) for v in p1]
        J = 0.0
        for a1, row in enumerate(inp["second_logits"].tolist()):
            p2 = [math.exp(v) for v in row]
            for a2, v in enumerate(p2):
                J += p1[a1] * v / sum(p2) * inp["rewards"][a1, a2].item()
        assert abs(EXERCISES["ch01_expected_return"].reference(**inp).item() - J) < 1e-5


def test_ch02_bandit_reference_is_unbiased_by_finite_differences():
    """Weighting every action by V·π(a)·R(a) turns the sample mean into the exact E[ĝ]; it must equal ∇J."""
    ref = EXERCISES["ch02_bandit_score"].reference
    for inp in _cases("ch02_bandit_score"):
        theta = inp["theta"].double()
        V = len(theta)
        R = torch.linspace(-1, 2, V, dtype=torch.float64) ** 2
        exact_mean = ref(theta, torch.arange(V), V * theta.softmax(-1) * R)
        eps, fd = 1e-6, torch.zeros(V, dtype=torch.float64)
        for k in range(V):
            e = torch.zeros(V, dtype=torch.float64)
            e[k] = eps
            fd[k] = (((theta + e).softmax(-1) * R).sum() - ((theta - e).softmax(-1) * R).sum()) / (2 * eps)
        assert torch.allclose(exact_mean, fd, atol=1e-8)


def test_ch02_reward_to_go_reference_by_double_loop_and_pglab():
    from pglab.advantages import reward_to_go
    for inp in _cases("ch02_reward_to_go"):
        r, m, gamma = inp["rewards"], inp["mask"], inp["gamma"]
        got = EXERCISES["ch02_reward_to_go"].reference(**inp)
        B, T = r.shape
        for i in range(B):
            for t in range(T):
                want = sum(gamma ** (k - t) * r[i, k].item() for k in range(t, T) if m[i, k]) if m[i, t] else 0.0
                assert abs(got[i, t].item() - want) < 1e-5
        assert torch.allclose(got, reward_to_go(r, m, gamma))


def test_ch03_loss_references_by_finite_differences():
    from pglab.algos.reinforce import loss as pglab_loss
    for name, leaf in (("ch03_reinforce_loss", "logprobs"), ("ch03_reinforce_from_logits", "logits")):
        ex = EXERCISES[name]
        for inp in _cases(name, seeds=[0]):
            obs = ex.observe(ex.reference, {k: (v.detach().clone().requires_grad_(v.requires_grad)
                                                if isinstance(v, torch.Tensor) else v) for k, v in inp.items()})
            grad = obs[f"gradient_wrt_{leaf}"]
            x = inp[leaf].detach().double()
            flat = x.flatten()
            for j in range(0, flat.numel(), max(1, flat.numel() // 7)):
                e = torch.zeros_like(flat)
                e[j] = 1e-6
                f = lambda d: ex.reference(**{**inp, leaf: (flat + d).view_as(x)}).item()   # noqa: E731
                fd = (f(e) - f(-e)) / 2e-6
                assert abs(fd - grad.flatten()[j].item()) < 1e-4, (name, j)
            if name == "ch03_reinforce_loss":
                zero = torch.zeros_like(inp["mask"])
                want, _ = pglab_loss(inp["logprobs"], inp["advantages"], inp["mask"], zero)
                assert torch.allclose(obs["loss"], want.detach())
                assert obs["gradient_reaching_advantages"].abs().sum() == 0


@pytest.mark.parametrize("master", masters(), ids=lambda p: p.stem)
def test_master_solutions_pass_the_checks(master):
    """The solution cells a teacher reads (not the module's reference) pass every check, on more seeds."""
    namespace: dict = {}
    for cell in nbformat.read(master, as_version=4).cells:
        if cell.cell_type == "code" and ("import" in cell.source.split("\n")[0] or "SOLUTION" in cell.source) \
                and "BEGIN TEST CONFIG" not in cell.source:
            exec(compile(cell.source, master.name, "exec"), namespace)
    checked = 0
    for ex in EXERCISES.values():
        if ex.chapter == int(master.name[2:4]):
            value = namespace.get(ex.function if isinstance(ex, Exercise) else ex.variable)
            result = check(ex, value, seeds=range(10, 14))
            assert result.passed, str(result)
            checked += 1
    assert checked >= 3


@pytest.mark.parametrize("master", masters(), ids=lambda p: p.stem)
def test_every_question_is_tested_through_pglab_checks(master):
    """Each otter question has a public and a hidden test that call require() on the exercise of that name, with
    the student's function (or answer variable) as the argument: what grade runs is what the tests here check."""
    cells = nbformat.read(master, as_version=4).cells
    questions = re.findall(r"# BEGIN QUESTION\nname: (\w+)", "\n".join(c.source for c in cells if c.cell_type == "raw"))
    chapter = int(master.name[2:4])
    assert sorted(questions) == sorted(n for n, e in EXERCISES.items() if e.chapter == chapter)
    tests = [c.source for c in cells if c.cell_type == "code" and "BEGIN TEST CONFIG" in c.source]
    for name in questions:
        ex = EXERCISES[name]
        arg = ex.function if isinstance(ex, Exercise) else ex.variable
        mine = [t for t in tests if f'require("{name}", {arg}' in t]
        assert len(mine) == 2, f"{name}: expected a public and a hidden test calling require on `{arg}`"
        assert sum("hidden: true" in t for t in mine) == 1 and any("HIDDEN_SEEDS" in t for t in mine)
        for t in mine:
            assert re.search(rf"^def test_\w+\({arg}\):", t, re.M) and re.search(rf"^test_\w+\({arg}\)$", t, re.M)


def test_feedback_shown_by_otter_keeps_eos_visible_in_html():
    """otter puts the message raw into HTML: '<eos>' must not look like a tag."""
    name, hint, fn = next(w for w in WRONG if w[1] == "no_mask" and w[0] == "ch02_reward_to_go")
    with pytest.raises(Feedback) as info:
        require(name, fn)
    text = str(info.value)
    assert "‹eos›" in text and not re.search(r"<[A-Za-z/]", text)


# ---------------------------------------------------------------------------------------------------------------
# the "predict, then measure" answer keys agree with what the measurement cells print

def _run_measurements(master: Path) -> tuple[dict, str]:
    """Run a master's setup and measurement cells (no solution, no test cells); return globals and stdout."""
    import contextlib
    import io
    namespace: dict = {}
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        for cell in nbformat.read(master, as_version=4).cells:
            src = cell.source
            if cell.cell_type == "code" and "SOLUTION" not in src and "TEST CONFIG" not in src:
                exec(compile(src, master.name, "exec"), namespace)
    return namespace, buffer.getvalue()


def test_ch01_answer_key_shortest_completions_are_most_probable():
    ns, out = _run_measurements(MASTER_DIR / "ch01_exercises.ipynb")
    assert EXERCISES["ch01_predict_length"].answer == "B"
    means = [ns["logp"][ns["lengths"] == n].mean().item() for n in range(1, 5)]
    assert all(a > b + 1.0 for a, b in zip(means, means[1:])), means           # shorter: clearly higher
    for n, m in zip(range(1, 5), means):
        assert abs(m / n - math.log(1 / 8)) < 0.2, (n, m)                        # ≈ n · log(1/8)


def test_ch02_answer_key_reward_to_go_changes_nothing_on_a_sparse_reward():
    ns, out = _run_measurements(MASTER_DIR / "ch02_exercises.ipynb")
    assert EXERCISES["ch02_predict_sparse"].answer == "B"
    assert torch.equal(ns["grads"]["reinforce"], ns["grads"]["reward_to_go"]) and "identical batch gradients: True" in out
    from pglab.exact import tiny_problem
    from pglab.gradients import batch_gradients
    dense = tiny_problem(task="copy")                                            # the contrast: dense copy
    g = {n: batch_gradients(dense.policy, dense.task, n, batch_size=16, n_batches=50) for n in ("reinforce", "reward_to_go")}
    assert g["reward_to_go"].var(0).sum() < 0.9 * g["reinforce"].var(0).sum()   # there, "A" would be right


def test_ch03_answer_key_the_per_token_mean_is_not_along_grad_j():
    ns, out = _run_measurements(MASTER_DIR / "ch03_exercises.ipynb")
    assert EXERCISES["ch03_predict_token_mean"].answer == "B"
    cos = {(task, name.strip()): float(v) for task, name, v in
           re.findall(r"^(copy\S*)\s+(sum over tokens|mean over tokens)\s*: cos\(E ĝ, ∇J\) = (\S+)$", out, re.M)}
    assert len(cos) == 4, out
    for task in ("copy", "copy-sparse"):
        assert abs(cos[task, "sum over tokens"] - 1) < 1e-5                       # along ∇J to rounding
        assert 0 < cos[task, "mean over tokens"] < 1 - 1e-3                     # not along it (exact), not downhill


# ---------------------------------------------------------------------------------------------------------------
# otter's own test files, as grading runs them, in-process: the masters' solutions get every point, the handed-out
# stubs none, one known wrong answer loses exactly its question (grading a class end to end: tests/test_grade.py)

MAX_POINTS = {"ch01_exercises": 7, "ch02_exercises": 6, "ch07_exercises": 11, "ch08_exercises": 8}


@pytest.fixture(scope="module")
def assignments(tmp_path_factory):
    """Every master's autograder zip and points, built exactly as ``python -m pglab grade`` builds them."""
    from pglab.grade import build_assignments
    return build_assignments(MASTER_DIR, tmp_path_factory.mktemp("autograders"))


def _otter_test_files(assignment, folder: Path) -> list:
    import zipfile

    from otter.test_files import ExceptionTestFile
    with zipfile.ZipFile(assignment.autograder) as z:
        z.extractall(folder)
    return [ExceptionTestFile.from_file(str(p)) for p in sorted((folder / "tests").glob("*.py"))]


def _namespace(notebook: Path, answer_cell) -> dict:
    """Run a notebook's import cells and the cells ``answer_cell(source)`` picks; return the globals."""
    namespace: dict = {}
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code" and ("import" in cell.source.split("\n")[0] or answer_cell(cell.source)) \
                and "BEGIN TEST CONFIG" not in cell.source:
            exec(compile(cell.source, notebook.name, "exec"), namespace)
    return namespace


@pytest.mark.parametrize("master", masters(), ids=lambda p: p.stem)
def test_otters_test_files_give_the_solutions_every_point_the_stubs_none_and_a_mistake_its_question(
        master, assignments, tmp_path):
    from pglab.exercises.build import STUDENT_DIR
    assignment = assignments[master.stem]
    files = _otter_test_files(assignment, tmp_path)
    assert [f.name for f in files] == sorted(assignment.points), "one otter test file per question"
    assert all(sum(tc.hidden for tc in f.test_cases) == 1 == len(f.test_cases) - 1 for f in files), \
        "each question: one public and one hidden test"
    assert sum(assignment.points.values()) == MAX_POINTS.get(master.stem, sum(assignment.points.values()))
    solved = _namespace(master, lambda source: "SOLUTION" in source)
    for f in files:
        f.run(solved)
        assert f.passed_all and f.score == f.possible == assignment.points[f.name], f.summary()
    subs = submissions()
    answered = subs.master_solutions(master)                            # the names the student defines
    stubs = _namespace(STUDENT_DIR / master.name, lambda source: subs._key(source) in answered)
    for f in files:
        f.run(stubs)
        assert f.score == 0 and "not yet implemented" in f.summary(), f.summary()
    name, _, wrong = next(w for w in WRONG if EXERCISES[w[0]].chapter == int(master.name[2:4]))
    mistaken = next(f for f in files if f.name == name)                  # the others were run above
    mistaken.run({**solved, EXERCISES[name].function: wrong})
    assert mistaken.score == 0 and check(name, wrong).hint[:50] in mistaken.summary(), mistaken.summary()
