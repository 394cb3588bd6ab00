import torch

from pglab.advantages import BASELINES, BaselineInputs, masked_mean, reward_to_go, whiten

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


def test_batch_mean_baseline_per_position_over_valid_rows():
    G = reward_to_go(R, M, 1.0)
    b = BASELINES["batch_mean"](BaselineInputs(G, M))
    assert torch.allclose(b[:, 0], torch.tensor([8.0, 8.0]))
    assert b[1, 3] == 0 and b[0, 3] == 4.0          # only row 0 is valid at t=3


def test_moving_average_uses_only_past_batches():
    state: dict = {}
    G1, G2 = torch.ones(2, 4), 3 * torch.ones(2, 4)
    ones = torch.ones(2, 4)
    assert torch.equal(BASELINES["moving_average"](BaselineInputs(G1, ones, state)), torch.zeros(2, 4))
    b2 = BASELINES["moving_average"](BaselineInputs(G2, ones, state, ema_decay=0.9))
    assert torch.allclose(b2, torch.ones(2, 4))      # the first batch's mean, not this batch's
    b3 = BASELINES["moving_average"](BaselineInputs(G2, ones, state, ema_decay=0.9))
    assert torch.allclose(b3, torch.full((2, 4), 0.9 * 1 + 0.1 * 3))


def test_none_baseline_is_zero_and_whiten_respects_mask():
    G = reward_to_go(R, M, 1.0)
    assert torch.equal(BASELINES["none"](BaselineInputs(G, M)), torch.zeros_like(G))
    w = whiten(G, M)
    assert w[1, 3] == 0
    assert abs(masked_mean(w, M).item()) < 1e-6
