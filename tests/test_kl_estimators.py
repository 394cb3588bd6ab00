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
