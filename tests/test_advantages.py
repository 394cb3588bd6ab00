import pytest
import torch

from pglab.advantages import (BASELINES, GRPO_EPS, BaselineInputs, explained_variance, gae, group_advantages,
                              masked_mean, nstep_returns, reward_so_far, reward_to_go, total_return, whiten)

R = torch.tensor([[1.0, 2.0, 3.0, 4.0],
                  [1.0, 0.0, 5.0, 9.0]])
M = torch.tensor([[1.0, 1.0, 1.0, 1.0],
                  [1.0, 1.0, 1.0, 0.0]])   # second row ended at t=2; its 9.0 must be ignored


def test_reward_to_go_gamma_zero_is_the_immediate_reward():
    assert torch.equal(reward_to_go(R, M, 0.0), torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 5.0, 0.0]]))


def test_reward_to_go_gamma_half_by_hand():
    # row 0: G3=4, G2=3+2=5, G1=2+2.5=4.5, G0=1+2.25=3.25 ; row 1: G2=5, G1=0+2.5, G0=1+1.25
    expected = torch.tensor([[3.25, 4.5, 5.0, 4.0], [2.25, 2.5, 5.0, 0.0]])
    assert torch.allclose(reward_to_go(R, M, 0.5), expected)


def test_reward_to_go_gamma_one_sums_the_rest():
    expected = torch.tensor([[10.0, 9.0, 7.0, 4.0], [6.0, 5.0, 5.0, 0.0]])
    assert torch.allclose(reward_to_go(R, M, 1.0), expected)


def test_total_return_and_reward_so_far():
    assert torch.equal(total_return(R, M), torch.tensor([[10.0] * 4, [6.0, 6.0, 6.0, 0.0]]))
    assert torch.equal(reward_so_far(R, M), torch.tensor([[1.0, 3.0, 6.0, 10.0], [1.0, 1.0, 6.0, 0.0]]))


V = torch.tensor([[0.5, 1.0, 2.0, 1.0],
                  [2.0, 1.0, 3.0, 7.0]])


def test_gae_hand_computed():
    # row 1 (valid t=0..2), γ=0.5, λ=0.5: V(s_3)=0 past the end.
    # δ2 = 5 + 0 − 3 = 2 ; δ1 = 0 + 0.5·3 − 1 = 0.5 ; δ0 = 1 + 0.5·1 − 2 = −0.5
    # A2 = 2 ; A1 = 0.5 + 0.25·2 = 1.0 ; A0 = −0.5 + 0.25·1.0 = −0.25
    a = gae(R, V, M, gamma=0.5, gae_lambda=0.5)
    assert torch.allclose(a[1], torch.tensor([-0.25, 1.0, 2.0, 0.0]))


def test_gae_lambda_one_is_monte_carlo_and_zero_is_td():
    for gamma in (1.0, 0.9):
        mc = (reward_to_go(R, M, gamma) - V) * M
        assert torch.allclose(gae(R, V, M, gamma, 1.0), mc, atol=1e-6)
        td = nstep_returns(R, V, M, gamma, n=1) - V * M
        assert torch.allclose(gae(R, V, M, gamma, 0.0), td * M, atol=1e-6)


def test_nstep_returns_by_hand_and_limits():
    # row 0, γ=1, n=2: G0 = 1+2+V2 = 5, G1 = 2+3+V3 = 6, G2 = 3+4 = 7, G3 = 4
    assert torch.allclose(nstep_returns(R, V, M, 1.0, 2)[0], torch.tensor([5.0, 6.0, 7.0, 4.0]))
    assert torch.allclose(nstep_returns(R, V, M, 0.7, 4), reward_to_go(R, M, 0.7))


def test_masks_respected_everywhere():
    for a in (gae(R, V, M, 0.9, 0.8), nstep_returns(R, V, M, 0.9, 2), reward_to_go(R, M, 0.9)):
        assert a[1, 3] == 0


def test_batch_mean_baseline_per_position_over_valid_rows():
    G = reward_to_go(R, M, 1.0)
    a = BASELINES["batch_mean"](BaselineInputs(G, M))
    assert torch.allclose(a[:, 0], torch.tensor([2.0, -2.0]))   # b_0 = (10 + 6) / 2
    assert a[1, 3] == 0 and a[0, 3] == 0.0                       # only row 0 is valid at t=3: b_3 = 4


def test_moving_average_uses_only_past_batches():
    state: dict = {}
    G1, G2, ones = torch.ones(2, 4), 3 * torch.ones(2, 4), torch.ones(2, 4)
    assert torch.equal(BASELINES["moving_average"](BaselineInputs(G1, ones, state)), G1)   # b = 0 at first
    a2 = BASELINES["moving_average"](BaselineInputs(G2, ones, state, ema_decay=0.9))
    assert torch.allclose(a2, G2 - 1)                    # the first batch's mean, not this batch's
    a3 = BASELINES["moving_average"](BaselineInputs(G2, ones, state, ema_decay=0.9))
    assert torch.allclose(a3, G2 - (0.9 * 1 + 0.1 * 3))


def test_leave_one_out_equals_brute_force_loop():
    g = torch.Generator().manual_seed(0)
    B, T, K = 12, 5, 4
    G = torch.randn(B, T, generator=g)
    mask = (torch.arange(T) < torch.randint(1, T + 1, (B, 1), generator=g)).float()
    a = BASELINES["leave_one_out"](BaselineInputs(G, mask, group_size=K))
    expected = torch.zeros(B, T)
    for i in range(B):
        group = range(i // K * K, i // K * K + K)
        for t in range(T):
            if mask[i, t]:
                others = [G[j, t] for j in group if j != i and mask[j, t]]
                b = sum(others) / len(others) if others else 0.0
                expected[i, t] = G[i, t] - b
    assert torch.allclose(a, expected, atol=1e-6)


def test_group_norm_zero_variance_group_gives_zero_not_nan():
    G = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0], [2.0, 2.0]])
    a = BASELINES["group_norm"](BaselineInputs(G, torch.ones(4, 2), group_size=2))
    assert torch.isfinite(a).all()
    assert torch.equal(a[:2], torch.zeros(2, 2))
    s = 2 ** 0.5                                        # sample std of [0, 2]
    assert torch.allclose(a[2:], torch.tensor([[-1.0, -1.0], [1.0, 1.0]]) / (s + 1e-4), atol=1e-6)


def test_group_baselines_reject_bad_group_sizes():
    with pytest.raises(ValueError, match="group_size must be >= 2"):
        BASELINES["leave_one_out"](BaselineInputs(R, M, group_size=1))
    with pytest.raises(ValueError, match="divide the batch size 2, got 3"):
        BASELINES["group_norm"](BaselineInputs(R, M, group_size=3))


def test_greedy_and_value_baselines_subtract_their_reference():
    G = reward_to_go(R, M)
    greedy = torch.full_like(G, 1.0) * M
    assert torch.equal(BASELINES["greedy"](BaselineInputs(G, M, greedy_returns=greedy)), (G - 1.0) * M)
    assert torch.equal(BASELINES["value"](BaselineInputs(G, M, values=V)), (G - V) * M)
    with pytest.raises(ValueError, match="value head"):
        BASELINES["value"](BaselineInputs(G, M))


def test_none_baseline_is_the_return_and_whiten_respects_mask():
    G = reward_to_go(R, M, 1.0)
    assert torch.equal(BASELINES["none"](BaselineInputs(G, M)), G)
    w = whiten(G, M)
    assert w[1, 3] == 0
    assert abs(masked_mean(w, M).item()) < 1e-6


def test_explained_variance():
    y = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    m = torch.ones(1, 4)
    assert explained_variance(y, y, m) == pytest.approx(1.0)
    assert explained_variance(torch.full_like(y, 2.5), y, m) == pytest.approx(0.0)


@pytest.mark.parametrize("value,k", [(0.6, 7), (5.3, 6), (0.1, 3), (1 / 3, 5)])
def test_group_norm_equal_float32_returns_give_exactly_zero(value, k):
    # float32: the mean of k equal values can miss the value by one rounding step; dividing that by
    # (std + 1e-6) used to blow it up to A = 0.056 (0.6, k = 7) and 0.32 (5.3, k = 6).
    G = torch.full((2 * k, 3), value, dtype=torch.float32)
    G[k:] = torch.linspace(0, 1, k)[:, None]           # a second group that does vary
    a = BASELINES["group_norm"](BaselineInputs(G, torch.ones(2 * k, 3), group_size=k))
    assert torch.equal(a[:k], torch.zeros(k, 3))
    assert a[k:].abs().max() > 0.9


def test_group_norm_ignores_finished_rows_when_checking_equality():
    G = torch.tensor([[0.6, 0.6], [0.6, 9.0], [0.6, 0.6]])
    M = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0]])   # row 1 ended: its 9.0 is not a return
    a = BASELINES["group_norm"](BaselineInputs(G, M, group_size=3))
    assert torch.equal(a, torch.zeros(3, 2))


@pytest.mark.parametrize("n", [4, 5, 6, 50])
def test_nstep_returns_beyond_the_horizon_are_monte_carlo(n):
    # n >= T: no state left to bootstrap from; used to raise for n >= T + 2
    assert torch.allclose(nstep_returns(R, V, M, 0.9, n), reward_to_go(R, M, 0.9))


def test_discounted_reward_to_go_is_gamma_t_times_reward_to_go():
    from pglab.advantages import discounted_reward_to_go
    g = 0.5
    expected = torch.tensor([[1 + 2 * g + 3 * g ** 2 + 4 * g ** 3, g * (2 + 3 * g + 4 * g ** 2),
                              g ** 2 * (3 + 4 * g), g ** 3 * 4],
                             [1 + 0 + 5 * g ** 2, g * (0 + 5 * g), g ** 2 * 5, 0.0]])
    assert torch.allclose(discounted_reward_to_go(R, M, g), expected)
    assert torch.allclose(discounted_reward_to_go(R, M, 1.0), reward_to_go(R, M, 1.0))


def test_group_advantages_grpo_by_hand_sample_std():
    R = torch.tensor([1.0, 0, 0, 0, 3, 1, 2, 2])
    s1, s2 = 0.5, (2 / 3) ** 0.5                        # sample stds (divide by K − 1) of [1,0,0,0] and [3,1,2,2]
    expected = torch.tensor([0.75 / (s1 + 1e-4), *[-0.25 / (s1 + 1e-4)] * 3,
                             1 / (s2 + 1e-4), -1 / (s2 + 1e-4), 0, 0])
    assert GRPO_EPS == 1e-4
    assert torch.allclose(group_advantages(R, 4, "grpo"), expected, atol=1e-6)
    assert torch.allclose(group_advantages(R, 4, "dr_grpo"), 3 / 4 * group_advantages(R, 4, "rloo"), atol=1e-6)


def test_group_advantages_is_the_algorithm_s_definition():
    from pglab.algos import grpo
    R = torch.randn(24, generator=torch.Generator().manual_seed(3))
    for kind in ("rloo", "grpo", "dr_grpo"):
        assert torch.allclose(group_advantages(R, 8, kind), grpo.group_advantages(R, 8, kind), atol=1e-6), kind


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["rloo", "grpo", "dr_grpo"])
def test_group_advantages_keep_the_returns_dtype(dtype, kind):
    R = torch.tensor([1.0, 0.1, 0.2, 0.3], dtype=dtype)
    a = group_advantages(R, 4, kind)
    assert a.dtype == dtype
    if dtype == torch.float64:                          # float64 precision kept, not a float32 round trip
        exact = {"rloo": 1.0 - 0.6 / 3, "dr_grpo": 1.0 - 1.6 / 4}
        if kind in exact:
            assert abs(a[0].item() - exact[kind]) < 1e-12


def test_group_norm_baseline_is_group_advantages_per_step():
    g = torch.Generator().manual_seed(1)
    B, T, K = 12, 4, 4
    G = torch.randn(B, T, generator=g)
    mask = (torch.arange(T) < torch.randint(1, T + 1, (B, 1), generator=g)).float()
    a = BASELINES["group_norm"](BaselineInputs(G, mask, group_size=K))
    for t in range(T):                                  # by hand: only the rows still running at t
        for grp in range(B // K):
            rows = [i for i in range(grp * K, grp * K + K) if mask[i, t]]
            if len(rows) < 2:
                assert all(a[i, t] == 0 for i in rows)
                continue
            x = G[rows, t].double()
            expected = (x - x.mean()) / (x.std() + GRPO_EPS)
            assert torch.allclose(a[rows, t].double(), expected, atol=1e-5)
    assert torch.equal(a * (1 - mask), torch.zeros(B, T))
    # with a full mask, a column is exactly the per-sequence advantage of chapter 07
    full = BASELINES["group_norm"](BaselineInputs(G, torch.ones(B, T), group_size=K))
    assert torch.allclose(full[:, 2], group_advantages(G[:, 2], K, "grpo"), atol=1e-6)


def test_group_advantages_reject_bad_input():
    with pytest.raises(ValueError, match="unknown advantage 'ppo'"):
        group_advantages(torch.zeros(4), 2, "ppo")
    with pytest.raises(ValueError, match="group_size must be an integer >= 2"):
        group_advantages(torch.zeros(4), 1)
    with pytest.raises(ValueError, match="divide the batch size 4, got 3"):
        group_advantages(torch.zeros(4), 3)
