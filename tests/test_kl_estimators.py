"""KL estimators k1, k2, k3 against the exact KL(π ‖ π_ref).

Two independent routes: a single categorical distribution, where the expectation is a
sum over the vocabulary and torch.distributions gives the KL; and the tiny problem, where
every completion is enumerated and pglab.exact.kl_divergence (which never calls pglab.kl)
gives the exact sequence KL.
"""
import pytest
import torch

from pglab import exact, kl
from pglab.rollout import token_logprobs


def test_values_by_hand():
    logp, logp_ref = torch.tensor([[-1.0, -2.0]]), torch.tensor([[-2.0, -1.0]])
    mask = torch.tensor([[1.0, 1.0]])
    # log r = logp_ref − logp = [−1, +1]
    assert torch.allclose(kl.k1(logp, logp_ref, mask), torch.tensor([[1.0, -1.0]]))
    assert torch.allclose(kl.k2(logp, logp_ref, mask), torch.tensor([[0.5, 0.5]]))
    e = torch.e
    assert torch.allclose(kl.k3(logp, logp_ref, mask), torch.tensor([[1 / e - 1 + 1, e - 1 - 1]]))
    zero = torch.tensor([[1.0, 0.0]])                                   # masked tokens contribute nothing
    for name, fn in kl.ESTIMATORS.items():
        assert fn(logp, logp_ref, zero)[0, 1] == 0, name
    assert torch.allclose(kl.estimate("k1", logp, logp_ref, mask), torch.tensor([0.0]))


def test_one_state_expectations_match_torch_distributions():
    """E_{a∼π}[k(a)] = Σ_a π(a) k(a) against torch.distributions.kl_divergence (another code path)."""
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        logits, ref_logits = torch.randn(2, 7, generator=gen) * 2
        logp, logp_ref = logits.log_softmax(-1)[None], ref_logits.log_softmax(-1)[None]
        exact_kl = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=logits),
                                                     torch.distributions.Categorical(logits=ref_logits)).item()
        means = {n: (logp.exp() * f(logp, logp_ref, torch.ones_like(logp))).sum().item()
                 for n, f in kl.ESTIMATORS.items()}
        assert means["k1"] == pytest.approx(exact_kl, rel=1e-5)
        assert means["k3"] == pytest.approx(exact_kl, rel=1e-5)
        assert abs(means["k2"] - exact_kl) > 1e-3 * exact_kl


@pytest.fixture(scope="module")
def pair():
    problem = exact.tiny_problem()
    reference = exact.tiny_problem(seed=1).policy
    with torch.no_grad():                                # a reference further away: a larger KL and k2 bias
        for p in reference.parameters():
            p.mul_(2.0)
    return problem, reference


def _expected_sums(problem, reference):
    """Σ_τ π(τ) Σ_t k_t(τ) per estimator, averaged over the prompts, by enumeration."""
    policy, task = problem.policy, problem.task
    ids, mask = exact.enumerate_completions(policy.vocab_size, task.max_new_tokens)
    out = dict.fromkeys(kl.ESTIMATORS, 0.0)
    with torch.no_grad():
        for prompt in problem.prompts:
            rows = prompt.expand(len(ids), -1)
            logp = token_logprobs(policy, rows, ids).logprobs * mask
            logp_ref = token_logprobs(reference, rows, ids).logprobs * mask
            p = logp.sum(1).exp().double()                               # π(τ | x)
            assert p.sum().item() == pytest.approx(1.0, abs=1e-5)
            for name, fn in kl.ESTIMATORS.items():
                out[name] += (p * fn(logp, logp_ref, mask).sum(1).double()).sum().item() / len(problem.prompts)
    return out


def test_k1_and_k3_are_unbiased_and_k2_is_not_by_enumeration(pair):
    problem, reference = pair
    exact_kl = exact.kl_divergence(problem.policy, reference, problem.task, problem.prompts)
    means = _expected_sums(problem, reference)
    assert exact_kl > 0.1                                                # a KL worth estimating
    assert means["k1"] == pytest.approx(exact_kl, rel=1e-5)
    assert means["k3"] == pytest.approx(exact_kl, rel=1e-5)
    assert abs(means["k2"] - exact_kl) > 0.02 * exact_kl                 # rounding is ~1e-7: a real bias
    for name in kl.ESTIMATORS:                                           # the helper agrees with the loop above
        mean, var = kl.exact_moments(problem.policy, reference, problem.task, problem.prompts, name)
        assert mean == pytest.approx(means[name], rel=1e-5) and var > 0
    assert set(kl.UNBIASED) == {"k1", "k3"}


def test_k3_has_lower_variance_than_k1_near_the_reference(pair):
    """Schulman's point for k3: when π is close to π_ref, the control variate r − 1 removes most of k1's noise."""
    problem, _ = pair
    near = exact.tiny_problem(seed=1).policy                             # two small random GRUs: close policies
    v1 = kl.exact_moments(problem.policy, near, problem.task, problem.prompts, "k1")[1]
    v3 = kl.exact_moments(problem.policy, near, problem.task, problem.prompts, "k3")[1]
    assert v3 < 0.2 * v1


def test_unknown_estimator_is_a_clear_error():
    with pytest.raises(ValueError, match="kl_estimator 'k4'"):
        kl.estimate("k4", torch.zeros(1, 1), torch.zeros(1, 1), torch.ones(1, 1))


def test_k3_stays_non_negative_and_accurate_for_tiny_log_ratios_in_float32():
    """k3 = (r − 1) − log r ≥ 0 always; exp(x) − 1 − x in float32 cancels to −5.6e-8 at x = 1e-4 (true +5e-9)."""
    log_r = torch.tensor([[1e-4, -1e-4, 3e-5, -1e-6, 1e-7, 0.3]])
    zeros, mask = torch.zeros_like(log_r), torch.ones_like(log_r)
    k3_32 = kl.k3(zeros, log_r, mask)                                     # logp = 0, logp_ref = log r
    k3_64 = kl.k3(zeros.double(), log_r.double(), mask.double())
    assert (k3_32 >= 0).all()
    err = (k3_32.double() - k3_64).abs()                                  # float32 keeps x to one ulp ≈ 6e-8 |x|
    assert (err <= 1e-3 * k3_64 + 1.2e-7 * log_r.double().abs()).all()
    assert k3_32[0, 0].item() == pytest.approx(0.5e-8, rel=1e-3)          # ½x² + x³/6 at x = 1e-4


def test_in_the_loss_k2_follows_the_reverse_kl_and_k3_the_forward_kl_per_state():
    """Per state, with a ∼ π and the sample held fixed (GRPO's KL in the loss):
    E[∇k1] = 0, E[∇k2] = ∇KL(π ‖ π_ref) (reverse), E[∇k3] = ∇KL(π_ref ‖ π) (forward) — against
    torch.distributions' KL differentiated by autograd."""
    gen = torch.Generator().manual_seed(1)
    Cat, KL = torch.distributions.Categorical, torch.distributions.kl_divergence
    for _ in range(3):
        logits = (torch.randn(6, generator=gen) * 1.5).requires_grad_(True)
        ref_logits = torch.randn(6, generator=gen) * 1.5
        logp_ref = ref_logits.log_softmax(-1)

        def expected_grad(name):                      # Σ_a π(a) ∇k(a), π(a) held fixed: the pathwise mean
            logp = logits.log_softmax(-1)
            k = kl.ESTIMATORS[name](logp[None], logp_ref[None], torch.ones(1, 6))[0]
            return torch.autograd.grad((logp.exp().detach() * k).sum(), logits)[0]

        grad = lambda f: torch.autograd.grad(f(), logits)[0]
        reverse = grad(lambda: KL(Cat(logits=logits), Cat(logits=ref_logits)))   # KL(π ‖ π_ref)
        forward = grad(lambda: KL(Cat(logits=ref_logits), Cat(logits=logits)))   # KL(π_ref ‖ π)
        assert expected_grad("k1").abs().max() < 1e-6
        assert torch.allclose(expected_grad("k2"), reverse, atol=1e-5)
        assert torch.allclose(expected_grad("k3"), forward, atol=1e-5)
        assert (forward - reverse).norm() > 1e-2                                   # the two really differ here


def test_off_policy_samples_bias_k1_and_k3(pair):
    """With the tokens drawn by another policy μ (a later epoch on one batch), Σ k1 and Σ k3 under π's
    log-probs no longer average to KL(π ‖ π_ref); sampler=π gives back the on-policy moments."""
    problem, reference = pair
    mu = exact.tiny_problem(seed=2).policy
    exact_kl = exact.kl_divergence(problem.policy, reference, problem.task, problem.prompts)
    for name in kl.UNBIASED:
        on = kl.exact_moments(problem.policy, reference, problem.task, problem.prompts, name)
        same = kl.exact_moments(problem.policy, reference, problem.task, problem.prompts, name, sampler=problem.policy)
        off = kl.exact_moments(problem.policy, reference, problem.task, problem.prompts, name, sampler=mu)
        assert same == pytest.approx(on, rel=1e-6)
        assert abs(off[0] - exact_kl) > 0.02 * exact_kl, name
