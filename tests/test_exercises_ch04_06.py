"""Exercises of chapters 04–06 (issue 11): each reference solution against an independent route (plain loops,
closed-form gradients, an identity of the optimum, pglab's own reward code), and each "predict, then measure"
answer key against the measurement the student runs."""
from __future__ import annotations

import math

import pytest
import torch

import pglab as pg
from pglab.exercises import EXERCISES, check
from pglab.exercises import ch04, ch05, ch06


def _cases(name: str, seeds=range(4)):
    return [c for s in seeds for c in EXERCISES[name].cases(s)]


def _lengths(mask):
    return [int(m.sum()) for m in mask]


# ---------------------------------------------------------------------------------------------------------------
# references against plain loops

def test_ch04_leave_one_out_reference_matches_a_plain_loop():
    for c in _cases("ch04_leave_one_out"):
        G, mask, K = c.inputs["returns"], c.inputs["mask"], c.inputs["group_size"]
        B, T = G.shape
        want = torch.zeros(B, T, dtype=torch.float64)
        for i in range(B):
            group = range(i // K * K, i // K * K + K)
            for t in range(_lengths(mask)[i]):
                others = [float(G[j, t]) for j in group if j != i and mask[j, t] == 1]
                want[i, t] = float(G[i, t]) - (sum(others) / len(others) if others else 0.0)
        assert torch.allclose(ch04.leave_one_out(**c.inputs).double(), want, atol=1e-6), c.label


def test_ch04_batch_mean_reference_matches_a_plain_loop_and_pglab():
    for c in _cases("ch04_batch_mean"):
        G, mask = c.inputs["returns"], c.inputs["mask"]
        B, T = G.shape
        want = torch.zeros(B, T, dtype=torch.float64)
        for t in range(T):
            running = [i for i in range(B) if mask[i, t] == 1]
            b = sum(float(G[i, t]) for i in running) / len(running) if running else 0.0
            for i in running:
                want[i, t] = float(G[i, t]) - b
        got = ch04.batch_mean_advantage(**c.inputs)
        assert torch.allclose(got.double(), want, atol=1e-6), c.label
        inp = pg.advantages.BaselineInputs(returns=G * mask, mask=mask)
        assert torch.allclose(got, pg.advantages.batch_mean(inp), atol=1e-6)


def test_ch05_gae_reference_matches_the_sum_of_discounted_td_errors():
    for c in _cases("ch05_gae"):
        r, v, mask, gamma, lam = (c.inputs[k] for k in ("rewards", "values", "mask", "gamma", "lam"))
        want = torch.zeros(r.shape, dtype=torch.float64)
        for i, L in enumerate(_lengths(mask)):
            V = [float(v[i, t]) for t in range(L)] + [0.0]                       # V = 0 after the episode
            d = [float(r[i, t]) + gamma * V[t + 1] - V[t] for t in range(L)]
            for t in range(L):
                want[i, t] = sum((gamma * lam) ** k * d[t + k] for k in range(L - t))   # Eq. 5.4
        assert torch.allclose(ch05.gae(**c.inputs).double(), want, atol=1e-5), c.label


def test_ch05_gae_limits_are_td_error_and_monte_carlo():
    c = _cases("ch05_gae")[2]
    r, v, mask, gamma = (c.inputs[k] for k in ("rewards", "values", "mask", "gamma"))
    G = pg.advantages.reward_to_go(r * mask, mask, gamma)
    assert torch.allclose(ch05.gae(r, v, mask, gamma, 1.0), (G - v) * mask, atol=1e-5)
    vm = v * mask
    nxt = torch.cat([vm[:, 1:], torch.zeros_like(vm[:, :1])], 1)
    assert torch.allclose(ch05.gae(r, v, mask, gamma, 0.0), (r + gamma * nxt - vm) * mask, atol=1e-6)


def test_ch05_nstep_reference_matches_a_plain_loop():
    for c in _cases("ch05_nstep"):
        r, v, mask, gamma, n = (c.inputs[k] for k in ("rewards", "values", "mask", "gamma", "n"))
        want = torch.zeros(r.shape, dtype=torch.float64)
        for i, L in enumerate(_lengths(mask)):
            for t in range(L):
                s = sum(gamma ** k * float(r[i, t + k]) for k in range(min(n, L - t)))
                want[i, t] = s + (gamma ** n * float(v[i, t + n]) if t + n < L else 0.0)   # Eq. 5.3
        assert torch.allclose(ch05.nstep_return(**c.inputs).double(), want, atol=1e-5), c.label


def test_ch05_a2c_reference_gradients_are_the_closed_form():
    """d L_policy / d log π = −A·m / B, d L_value / d V = (V − y)·m / N = −A·m / N, and nothing else."""
    for c in _cases("ch05_a2c_loss"):
        obs = ch05._a2c_observe(ch05.a2c_losses, {k: (v.detach().clone().requires_grad_(v.requires_grad)
                                                     if isinstance(v, torch.Tensor) else v)
                                                  for k, v in c.inputs.items()})
        r, v, mask, gamma, lam = (c.inputs[k].detach() if isinstance(c.inputs[k], torch.Tensor) else c.inputs[k]
                                  for k in ("rewards", "values", "mask", "gamma", "lam"))
        A = torch.zeros(r.shape, dtype=torch.float64)
        for i, L in enumerate(_lengths(mask)):                                      # GAE by the plain sum
            V = [float(v[i, t]) for t in range(L)] + [0.0]
            d = [float(r[i, t]) + gamma * V[t + 1] - V[t] for t in range(L)]
            for t in range(L):
                A[i, t] = sum((gamma * lam) ** k * d[t + k] for k in range(L - t))
        B, N = r.shape[0], float(mask.sum())
        m = mask.double()
        assert torch.allclose(obs["d policy_loss / d logprobs"], -A * m / B, atol=1e-6)
        assert torch.allclose(obs["d value_loss / d values"], -A * m / N, atol=1e-6)
        assert not obs["d policy_loss / d values"].any() and not obs["d value_loss / d logprobs"].any()
        logp = c.inputs["logprobs"].detach().double()
        assert math.isclose(obs["policy_loss"].item(), float(-(A * logp * m).sum() / B), abs_tol=1e-5)
        assert math.isclose(obs["value_loss"].item(), float(0.5 * (A ** 2 * m).sum() / N), abs_tol=1e-6)


def test_ch05_discounted_weights_reference_is_the_absolute_discount():
    """γ^(t−1) G_t = Σ_{k≥t} γ^(k−1) r_k (tokens from 1), and pglab's discounted_reward_to_go."""
    for c in _cases("ch05_discounted_weights"):
        r, mask, gamma = (c.inputs[k] for k in ("rewards", "mask", "gamma"))
        want = torch.zeros(r.shape, dtype=torch.float64)
        for i, L in enumerate(_lengths(mask)):
            for t in range(L):
                want[i, t] = sum(gamma ** k * float(r[i, k]) for k in range(t, L))
        got = ch05.discounted_weights(**c.inputs)
        assert torch.allclose(got.double(), want, atol=1e-5), c.label
        assert torch.allclose(got, pg.advantages.discounted_reward_to_go(r, mask, gamma), atol=1e-6)


def test_ch06_kl_penalty_reference_matches_a_plain_loop():
    for c in _cases("ch06_kl_penalty"):
        r, lp, ref, mask, beta = (c.inputs[k] for k in ("rewards", "logprobs", "ref_logprobs", "mask", "beta"))
        want = torch.zeros(r.shape, dtype=torch.float64)
        for i, L in enumerate(_lengths(mask)):
            for t in range(L):
                want[i, t] = float(r[i, t]) - beta * (float(lp[i, t]) - float(ref[i, t]))   # Eq. 6.2
        assert torch.allclose(ch06.kl_penalised_rewards(**c.inputs).double(), want, atol=1e-6)


def test_ch06_chrf_reference_is_pglabs_reward():
    for c in _cases("ch06_chrf_reward"):
        ids, mask, refs, vocab = (c.inputs[k] for k in ("completion_ids", "mask", "references", "vocab"))
        hyps = [vocab.decode(row.tolist()) for row in ids]
        want = pg.rewards.at_last_token(pg.rewards.sentence_chrf(hyps, refs), mask)
        got = ch06.chrf_rewards(**c.inputs)
        assert torch.allclose(got, want, atol=1e-6), c.label
        assert ((got > 0).sum(1) <= 1).all() and (got <= 1).all()


def test_ch06_kl_optimum_reference_reaches_beta_log_z_and_no_perturbation_beats_it():
    """Eq. 6.4: E_π*[R] − β KL(π* ‖ π_ref) = β log Σ π_ref e^{R/β}, the largest value of the objective."""
    g = torch.Generator().manual_seed(0)
    for c in _cases("ch06_kl_optimum"):
        ref, R, beta = (c.inputs[k].double() if isinstance(c.inputs[k], torch.Tensor) else c.inputs[k]
                        for k in ("ref_logprobs", "rewards", "beta"))
        p = ch06.kl_optimum(**c.inputs).double()
        assert torch.allclose(p.sum(-1), torch.ones(len(p), dtype=torch.float64), atol=1e-5)

        def objective(q):
            return (q * R).sum(-1) - beta * (q * (q.clamp_min(1e-300).log() - ref)).sum(-1)
        log_z = torch.logsumexp(ref + R / beta, -1)
        assert torch.allclose(objective(p), beta * log_z, rtol=1e-4, atol=1e-4), c.label
        for _ in range(5):
            q = torch.softmax(p.log() + 0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64), -1)
            assert (objective(q) <= objective(p) + 1e-9).all()


# ---------------------------------------------------------------------------------------------------------------
# the "predict, then measure" answer keys agree with the measurement in the student notebook

def _variance(tiny, estimator) -> float:
    g = pg.gradients.batch_gradients(tiny.policy, tiny.task, estimator, batch_size=16, n_batches=100)
    return g.double().var(0).sum().item()


def test_ch04_predict_answer_key_is_what_the_measurement_shows():
    tiny = pg.exact.tiny_problem()
    ratio = _variance(tiny, "value") / _variance(tiny, "reward_to_go")
    assert ratio > 2.0                                       # "higher than with no baseline", by far
    assert EXERCISES["ch04_predict_bad_baseline"].answer == "C"
    assert check("ch04_predict_bad_baseline", "C").passed


def test_ch05_predict_answer_key_is_what_the_measurement_shows():
    """5.5 fits the critic on the article's target r_t (γ = 0). B says "down clearly, by a third or more"
    (ratio ≤ 2/3): measured 0.29–0.47 on tiny_problem(seed=0..3), so it holds whichever seed a student's notebook
    runs; asserted below 0.6 on every seed 0..5."""
    est = lambda lam: pg.gradients.Estimator(returns="gae", gae_lambda=lam)   # noqa: E731
    ratios = []
    for seed in range(6):
        tiny = pg.exact.tiny_problem(seed=seed)
        pg.algos.a2c.fit_critic(tiny.policy, tiny.task, steps=150, gamma=0.0)   # the notebook's critic: target r_t
        ratios.append(_variance(tiny, est(0.0)) / _variance(tiny, est(1.0)))
    assert max(ratios) < 0.6, ratios                         # "down clearly, by a third or more", with margin
    assert "by a third or more" in EXERCISES["ch05_predict_lambda"].choices["B"]
    assert EXERCISES["ch05_predict_lambda"].answer == "B"
    assert check("ch05_predict_lambda", "B").passed


def test_ch06_predict_answer_key_is_what_the_measurement_shows():
    tiny = pg.exact.tiny_problem()
    kls = [pg.exact.kl_regularised_optimum(tiny.policy, tiny.task, tiny.prompts, b).kl for b in (0.05, 0.2, 1.0, 5.0)]
    assert all(a > 5 * b for a, b in zip(kls, kls[1:])) and kls[-1] < 1e-3   # falls towards 0
    assert EXERCISES["ch06_predict_beta"].answer == "B"


@pytest.mark.parametrize("name", ["ch04_which_biased"])
def test_ch04_which_biased_only_the_action_dependent_baseline(name):
    q = EXERCISES[name]
    assert "a_t" in q.choices[q.answer] and all("a_t" not in q.choices[k] for k in q.choices if k != q.answer)


def test_ch04_which_biased_feedback_is_about_reasoning_not_a_measurement():
    """4.3 has no measurement: a wrong letter points at Eq. 4.1 and says the choice keeps the estimator unbiased."""
    for letter in "ABD":
        text = str(check("ch04_which_biased", letter))
        assert "measurement" not in text and "Eq. 4.1" in text, text
        assert "keeps the estimator unbiased" in text.split("hint:")[0]


# ---------------------------------------------------------------------------------------------------------------
# edge values in every generator, and the wrong answers that only they expose

def _values(name, key, seed):
    return [c.inputs[key] for c in EXERCISES[name].cases(seed)]


@pytest.mark.parametrize("seed", [0, 1, 101])
def test_case_generators_include_the_edge_values_and_a_long_episode(seed):
    for name, keys in [("ch05_gae", ("gamma", "lam")), ("ch05_nstep", ("gamma",)),
                       ("ch05_discounted_weights", ("gamma",)), ("ch05_a2c_loss", ("lam",)),
                       ("ch06_kl_penalty", ("beta",))]:
        for key in keys:
            values = set(_values(name, key, seed))
            want = {0.0} if key == "beta" else {0.0, 1.0}
            assert want <= values, f"{name}: {key} never takes {want - values}"
        if name != "ch05_a2c_loss":
            assert max(c.inputs["mask"].shape[1] for c in EXERCISES[name].cases(seed)) >= 50, name


def test_vectorised_gae_and_exp_log_discount_fail_only_at_the_edges():
    """The two solutions the reviewer found passing: right on every γ, λ in (0, 1), NaN at γλ = 0 / γ = 0."""
    def gae_cumsum(rewards, values, mask, gamma, lam):
        w = (gamma * lam) ** torch.arange(rewards.shape[1], dtype=rewards.dtype)
        v = values * mask
        delta = (rewards + gamma * torch.cat([v[:, 1:], torch.zeros_like(v[:, :1])], 1) - v) * mask
        return (w * delta).flip(1).cumsum(1).flip(1) / w * mask

    def disc_exp_log(rewards, mask, gamma):
        t = torch.arange(rewards.shape[1], dtype=rewards.dtype)
        return torch.exp(t * math.log(gamma) if gamma > 0 else t * -math.inf) * \
            pg.advantages.reward_to_go(rewards, mask, gamma)

    for name, fn, key in [("ch05_gae", gae_cumsum, "lam"), ("ch05_discounted_weights", disc_exp_log, "gamma")]:
        ex = EXERCISES[name]
        inner = [c for c in ex.cases(0) if 0 < c.inputs[key] < 1 and (key != "lam" or 0 < c.inputs["gamma"])]
        assert inner and all(ex.compare(ex.reference(**c.inputs), fn(**c.inputs)) is None for c in inner), name
        result = check(name, fn)
        assert not result.passed and result.hint_key == "nan_at_zero", str(result)
        assert "NaN" in result.hint and f"{key}=0.0" in result.case


def test_a_transposed_output_is_told_to_return_b_by_t():
    for name in ("ch04_leave_one_out", "ch04_batch_mean", "ch05_gae", "ch05_nstep", "ch05_discounted_weights",
                 "ch06_kl_penalty", "ch06_chrf_reward"):
        ex = EXERCISES[name]
        result = check(name, lambda **kw: ex.reference(**kw).T)
        assert result.hint_key == "shape" and "return a (B, T) tensor" in result.hint, (name, str(result))
    result = check("ch06_kl_optimum", lambda **kw: ch06.kl_optimum(**kw).T)
    assert result.hint_key == "shape" and "(P, N)" in result.hint


# ---------------------------------------------------------------------------------------------------------------
# proof questions and conceptual letters: every wrong letter is rejected with a hint that teaches, not tells

def _fixture(name):
    import importlib.util
    from pathlib import Path
    path = Path(__file__).parent / "fixtures" / "exercises" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WRONG_LETTERS = _fixture("wrong_ch04").WRONG_LETTERS + _fixture("wrong_ch05").WRONG_LETTERS


@pytest.mark.parametrize("name, letter, teaches, gives_away", WRONG_LETTERS,
                         ids=[f"{n}-{l}" for n, l, _, _ in WRONG_LETTERS])
def test_wrong_letter_is_rejected_with_a_hint_that_teaches(name, letter, teaches, gives_away):
    result = check(name, letter)
    assert result.status == "failed" and result.hint_key == f"choice_{letter}", str(result)
    assert teaches in result.hint, result.hint
    assert gives_away not in result.hint, result.hint
    q = EXERCISES[name]
    assert q.answer not in (letter,) and f"({q.choices[q.answer]}" not in str(result)   # the answer is not shown


def test_proof_questions_cover_every_wrong_letter_and_accept_the_false_step():
    for name, false_step in (("ch04_false_step", "C"), ("ch05_false_step", "D")):
        q = EXERCISES[name]
        assert q.answer == false_step and check(name, false_step).passed and not q.measured
        assert {letter for n, letter, _, _ in WRONG_LETTERS if n == name} == set(q.choices) - {false_step}


def test_the_false_steps_are_false_and_the_others_hold_numerically():
    """ch04: the group mean gives (K−1)/K ∇J, not ∇J (so step C is the false one); ch05: Σ_{k≥t} γ^(k−1) r_k is
    γ^(t−1) G_t, not G_t (step D). Checked on the tiny problem's exact numbers and by hand."""
    K = 4                                                                  # equal lengths: the identity is exact
    G = torch.tensor([3.0, 1.0, 0.0, 2.0])
    b = G.mean()
    loo = G - (G.sum() - G) / (K - 1)
    assert torch.allclose(G - b, (K - 1) / K * loo)                        # group mean = (K−1)/K · leave-one-out
    r, gamma, t = torch.tensor([0.0, 1.0, 2.0]), 0.5, 2                    # steps t = 1..3, look at t = 2
    lhs = sum(gamma ** (k - 1) * r[k - 1] for k in range(t, 4))
    G_t = sum(gamma ** (k - t) * r[k - 1] for k in range(t, 4))
    assert abs(lhs - gamma ** (t - 1) * G_t) < 1e-12 and abs(lhs - G_t) > 0.1   # D's equality fails


def test_ch05_a2c_is_graded_with_the_reference_gae_so_a_5_1_bug_costs_once():
    fx = _fixture("wrong_ch05")
    names = {"torch": torch, "gae": fx.gae_from_5_1_left_to_right}        # the student's notebook namespace
    exec(fx.A2C_WITH_OWN_GAE, names)
    assert not check("ch05_gae", fx.gae_from_5_1_left_to_right).passed     # 5.1 fails ...
    result = check("ch05_a2c_loss", names["a2c_losses"])
    assert result.passed, str(result)                                      # ... 5.3 does not fail with it
    assert names["gae"] is fx.gae_from_5_1_left_to_right                  # and the student's gae is restored
