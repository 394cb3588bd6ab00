"""PPO, RLOO, GRPO and Dr. GRPO by name: train(), the CLI's compare --algos, the race and the live lab."""
import csv

import pytest
import torch

import pglab as pg
from pglab import gradients as G
from pglab.cli import main
from pglab.lab.race import CONTENDERS, LADDER, MODERN, Race, RaceConfig, _algorithm


@pytest.mark.parametrize("algo", ["ppo", "rloo", "grpo", "dr_grpo"])
def test_train_by_name(algo):
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=16, value_head="separate", seed=0)
    cfg = pg.algos.ALGOS[algo][0](batch_size=16)
    before = [p.detach().clone() for p in policy.actor_parameters().values()]
    h = pg.train.train(policy, task, algo, config=cfg, steps=2, lr=1e-2)
    assert len(h) == 2 and all(k in h.keys() for k in ("reward/mean", "clip_frac", "updates"))
    assert any(not torch.equal(b, p) for b, p in zip(before, policy.actor_parameters().values()))


def test_compare_algos_writes_one_run_per_algorithm(tmp_path):
    out = tmp_path / "run"
    assert main(["compare", "--out", str(out), "--algos", "reinforce,a2c,ppo,grpo", "--steps", "2",
                 "--batch-size", "16", "--hidden-size", "16", "--no-progress"]) == 0
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert [r["run"] for r in rows[::2]] == ["reinforce (batch_mean)", "a2c", "ppo", "grpo"]
    assert {r["updates"] for r in rows if r["run"] == "ppo"} == {"16.0"}          # 4 epochs × 4 minibatches


@pytest.mark.parametrize("args, message", [
    (["--algos", "ppo,trpo"], "unknown algorithm in --algos 'trpo'; known: 'reinforce', 'a2c', 'ppo', 'rloo'"),
    (["--algos", "ppo,,grpo"], "--algos must be a comma-separated list"),
    (["--algos", "ppo,ppo"], "--algos names ppo more than once"),
    (["--algos", "ppo", "--baseline", "value"], "--baseline applies to reinforce only"),
    (["--algos", "a2c", "--group-size", "4"], "--group-size applies to rloo, grpo, dr_grpo"),
    (["--algos", "grpo", "--batch-size", "12"], "group_size must divide batch_size=12, got 8"),
    (["--algos", "ppo", "--batch-size", "6"], "minibatches must divide batch_size=6"),
])
def test_bad_algos_are_clear_errors_and_touch_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exit_:
        main(["compare", "--out", str(out), "--steps", "1", *args])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not out.exists()


def test_race_contenders_and_their_estimators():
    assert CONTENDERS == LADDER + MODERN and RaceConfig().contenders == LADDER          # lab defaults unchanged
    cfg = RaceConfig(contenders=MODERN, batch_size=8)
    algos = {name: _algorithm(name, cfg) for name in MODERN}
    assert {n: a for n, (a, _, _) in algos.items()} == {"PPO": "ppo", "RLOO": "rloo", "GRPO": "grpo",
                                                        "Dr. GRPO": "dr_grpo"}
    assert algos["PPO"][2] == _algorithm("A2C", cfg)[2]                   # PPO's first step is A2C's estimator
    assert algos["GRPO"][2] == G.Estimator(group_advantage="grpo", aggregation="sequence_mean", group_size=4)
    assert algos["Dr. GRPO"][2] == G.Estimator(group_advantage="dr_grpo", group_size=4)
    with pytest.raises(ValueError, match="batch_size must be a multiple of 4 for RLOO"):
        RaceConfig(contenders=("RLOO",), batch_size=10)
    with pytest.raises(ValueError, match="batch_size must be a multiple of 4 for PPO"):
        RaceConfig(contenders=("PPO",), batch_size=18)


def test_a_short_race_of_the_modern_family():
    race = Race(RaceConfig(contenders=("PPO", "GRPO"), steps=2, batch_size=8, measure_every=2, meter_batches=4))
    assert race.run() == "finished"
    assert set(race.histories) == {"PPO", "GRPO"} and all(len(h[0]) == 2 for h in race.histories.values())
    assert set(race.points[-1].variance) >= {"PPO", "GRPO"}


def test_the_lab_offers_them_with_colours_and_tips():
    lab = pg.app.Lab()
    for name in MODERN:
        box = lab.controls[f"race:{name}"]
        assert box.value is False and len(box.tooltip) > 20
    colours = [pg.lab.plots.color(n) for n in CONTENDERS]
    assert len(set(colours)) == len(colours) and pg.lab.plots.color(pg.meter.YARDSTICK) not in colours
    assert lab.configure(contenders=("A2C", "Dr. GRPO"))
    assert lab.config().contenders == ("A2C", "Dr. GRPO")
