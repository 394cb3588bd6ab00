"""The same-policy meter and its readout, without widgets."""
import pytest
import torch

from pglab.lab import meter
from pglab.lab.meter import Interval, MeterPoint
from pglab.lab.race import Race, RaceConfig


def test_gram_stats_match_the_direct_formulas():
    g = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [3.0, 0.0, 1.0]])
    variance, snr = meter.gram_stats(g, torch.arange(4)[None])
    direct = g.double().var(0, unbiased=True).sum()
    signal = g.double().mean(0).pow(2).sum() - direct / 4
    assert variance.item() == pytest.approx(direct.item()) and snr.item() == pytest.approx((signal / direct).item())
    repeat = torch.tensor([[0, 0, 1, 1]])                        # a bootstrap row with repeats
    assert meter.gram_stats(g, repeat)[0].item() == pytest.approx(g[[0, 0, 1, 1]].double().var(0).sum().item())


def test_a_scaled_estimator_has_exactly_the_squared_ratio():
    g = torch.randn(16, 50, generator=torch.Generator().manual_seed(0))
    variance, snr, ratio = meter.summarize({meter.YARDSTICK: 3 * g, "half": g})
    r = ratio["half"]
    assert r.value == pytest.approx(9) and r.low == pytest.approx(9) and r.high == pytest.approx(9)
    assert variance["half"].low <= variance["half"].value <= variance["half"].high


def _point(ratio, entropy=1.0):
    iv = Interval(1.0, 0.5, 1.5)
    return MeterPoint(50, "REINFORCE", entropy, {}, {}, {"A2C": ratio}, None)


def test_the_readout_states_a_ratio_only_when_its_interval_excludes_one():
    ents, rew = {"REINFORCE": 1.0, "A2C": 1.0}, {"REINFORCE": 0.3, "A2C": 0.5}
    lower = meter.verdicts(_point(Interval(2.4, 1.8, 3.1)), ents, rew)[1]
    assert lower.kind == "lower" and lower.text == "variance ×2.4 lower than vanilla REINFORCE (95 % CI ×1.80–3.10)"
    unclear = meter.verdicts(_point(Interval(0.6, 0.3, 1.4)), ents, rew)[1]
    assert unclear.kind == "unclear" and "higher" not in unclear.text and "includes 1" in unclear.text
    higher = meter.verdicts(_point(Interval(0.5, 0.4, 0.8)), ents, rew)[1]
    assert higher.kind == "higher" and "×2.0 higher" in higher.text
    assert meter.verdicts(_point(Interval(2, 1.5, 3)), ents, rew)[0].kind == "yardstick"


def test_collapse_is_named_and_gets_no_ratio():
    ents = {"REINFORCE": 1.0, "A2C": 0.002}
    v = meter.verdicts(_point(Interval(1e14, 1e13, 1e15)), ents, {"A2C": 0.0})[1]
    assert v.kind == "collapsed" and "×" not in v.text and "entropy 0.002" in v.text
    shared = meter.verdicts(_point(Interval(3, 2, 4), entropy=0.001), {"REINFORCE": 1.0, "A2C": 1.0}, {})
    assert all(x.kind == "collapsed" for x in shared) and "shared policy θ" in shared[1].text


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_race_never_calls_a_baseline_or_critic_worse_without_interval_support(seed):
    # Today's per-policy single-measurement readout said "A2C: variance ×1.9 higher" here on every run.
    race = Race(RaceConfig(seed=seed, steps=100))            # default settings, shorter
    race.run()
    assert [p.step for p in race.points] == [0, 50, 100]
    for point in race.points:
        assert point.reference == "REINFORCE"                 # every estimator at the same θ
        for name in ("REINFORCE + baseline", "A2C"):
            assert point.ratio[name].low > 1, (seed, point)    # lower, and the interval says so
    verdicts = {v.name: v for v in race.verdicts()}
    assert verdicts["REINFORCE + baseline"].kind == "lower" and verdicts["A2C"].kind == "lower"
    assert verdicts["REINFORCE (reward-to-go)"].kind in ("lower", "unclear")


def test_a_collapsed_race_gets_the_collapse_message():
    race = Race(RaceConfig(lr=0.1, entropy_coef=0.0, steps=60, contenders=("REINFORCE", "A2C"),
                           meter_batches=8, measure_every=30))
    race.run()
    verdicts = race.verdicts()
    assert all(v.kind == "collapsed" for v in verdicts), verdicts
    assert not any("lower than" in v.text or "higher than" in v.text for v in verdicts)


def test_the_meter_keeps_the_policies_untouched_and_is_reproducible():
    cfg = RaceConfig(steps=0 + 10, contenders=("REINFORCE", "A2C"), meter_batches=6, measure_every=10)
    a, b = Race(cfg), Race(cfg)
    before = {k: v.clone() for k, v in a.runs[1].policy.state_dict().items()}
    pa, pb = a.measure(), b.measure()
    assert all(torch.equal(before[k], v) for k, v in a.runs[1].policy.state_dict().items())   # A2C's critic too
    assert pa.variance["A2C"] == pb.variance["A2C"] and pa.ratio == pb.ratio


class _StopAt:
    """A stop event that is set from its ``k``-th check on (mid-round)."""

    def __init__(self, k):
        self.k, self.calls = k, 0

    def is_set(self):
        self.calls += 1
        return self.calls >= self.k


def test_a_paused_race_resumes_exactly_where_it_was():
    cfg = RaceConfig(steps=12, contenders=("REINFORCE", "A2C"), meter_batches=4, measure_every=6)
    whole, paused = Race(cfg), Race(cfg)
    whole.run()
    assert paused.run(_StopAt(10)) == "stopped" and len(paused.runs[0].history) != len(paused.runs[1].history)
    assert paused.run() == "finished"
    for a, b in zip(whole.runs, paused.runs):
        assert a.history.rows == b.history.rows                     # the same updates, none twice
    assert [p.step for p in paused.points] == [0, 6, 12] and repr(paused.points[-1]) == repr(whole.points[-1])
