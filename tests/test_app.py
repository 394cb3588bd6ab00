import re
"""The live lab driven from Python: the same buttons a student clicks."""
import threading
import time

import pytest

import pglab as pg
from pglab.lab.race import Race, RaceConfig


def small(**kw):
    return pg.app.Lab(**{"steps": 20, "batch_size": 16, "measure_every": 10, "meter_batches": 8, **kw})


def test_train_click_grows_histories_and_meter():
    lab = small()
    lab.buttons["Train"].click()
    assert lab.running or lab.race.step > 0
    lab.wait(60)
    assert not lab.running
    assert set(lab.results) == {"REINFORCE", "REINFORCE (reward-to-go)", "REINFORCE + baseline", "A2C"}
    assert all(len(h) == 20 for hs in lab.results.values() for h in hs)
    assert all(len(m) == 3 for m in lab.race.meter.values())          # steps 0, 10, 20
    assert lab.status.value.startswith("step 20/20 — finished")
    assert lab.progress.value == 20 and all(p.value[:4] == b"\x89PNG" for p in lab.plots)
    assert "At the same policy θ" in lab.readout.value and "meter at step 20" in lab.readout.value
    assert ">target</th>" in lab.samples.value and ">reward</th>" in lab.samples.value
    assert not lab.buttons["Train"].disabled and lab.buttons["Stop"].disabled


def test_stop_takes_effect_within_one_update():
    lab = small(steps=2000, contenders=("A2C",))
    lab.buttons["Train"].click()
    deadline = time.time() + 30
    while (lab.race is None or lab.race.step < 3) and lab.running and time.time() < deadline:
        time.sleep(0.01)
    assert lab.running, lab.message.value
    lab.buttons["Stop"].click()
    step_at_click = lab.race.step
    lab.wait(30)
    assert not lab.running
    assert lab.race.step <= step_at_click + 1
    assert "paused" in lab.status.value and "Train resumes" in lab.status.value


def test_reset_clears_everything():
    lab = small()
    lab.train(block=True)
    assert lab.results
    lab.buttons["Reset"].click()
    assert lab.results == {} and lab.race is None
    assert lab.progress.value == 0 and lab.status.value.startswith("ready")
    assert lab.readout.value == "" and lab.samples.value == ""


def test_bad_values_show_a_message_and_the_lab_stays_usable():
    lab = small()
    for name in pg.race.CONTENDERS:
        lab.controls[f"race:{name}"].value = False
    lab.buttons["Train"].click()                         # no exception ...
    assert "contenders must name at least one" in lab.message.value      # ... a message instead
    assert not lab.running
    assert lab.configure(contenders=("A2C",))
    assert lab.configure(gamma=1.5) is False
    assert "gamma must be in [0, 1], got 1.5" in lab.message.value
    assert lab.controls["gamma"].value == 1.0           # nothing was clamped or changed
    lab.controls["baseline"].value = "leave_one_out"
    assert lab.configure(batch_size=18) is False and "multiple of 4" in lab.message.value
    assert lab.train(block=True)                         # still usable
    assert lab.message.value == "" and len(lab.results["A2C"][0]) == 20


def test_training_failure_is_a_message_not_a_crash():
    lab = small(contenders=("REINFORCE",), steps=10)
    lab.race = None
    original = Race.advance

    def explode(self, stop=None):
        raise pg.algos.NonFiniteError("loss is nan; stopping before the update")

    Race.advance = explode
    try:
        lab.train(block=True)
    finally:
        Race.advance = original
    assert "loss is nan" in lab.message.value and "failed" in lab.status.value
    assert not lab.running and not lab.buttons["Train"].disabled


def test_python_api_and_constructor_validation():
    lab = small(seeds=2, contenders=("REINFORCE", "A2C"))
    lab.train(block=True)
    assert [len(hs) for hs in lab.results.values()] == [2, 2]
    with pytest.raises(ValueError, match=r"seeds must be an integer in \[1, 8\], got 9"):
        pg.app.Lab(seeds=9)
    with pytest.raises(ValueError, match="unknown contender 'TRPO'"):
        RaceConfig(contenders=("TRPO",))
    with pytest.raises(ValueError, match=r"lr must be in \(0, 1\], got 5.0"):
        RaceConfig(lr=5.0)


def test_sliders_do_not_update_continuously():
    lab = small()
    sliders = [c for c in lab.controls.values() if hasattr(c, "continuous_update")]
    assert len(sliders) >= 7 and not any(c.continuous_update for c in sliders)
    assert [b.description for b in lab.buttons.values()] == ["Train", "Stop", "Reset"]


@pytest.mark.parametrize("settings,message", [
    ({"steps": 5000}, r"steps must be in \[10, 2000\] in the live lab, got 5000"),
    ({"batch_size": 7}, r"batch_size must be in \[8, 256\] in the live lab, got 7"),
    ({"batch_size": 30}, r"batch_size must be a multiple of 8 in the live lab"),
    ({"lr": 0.5}, r"lr must be in \[1e-05, 0.1\] in the live lab, got 0.5"),
    ({"steps": 15}, r"steps must be a multiple of 10"),
])
def test_lab_refuses_values_its_sliders_cannot_show(settings, message):
    # these used to become 2000, 8, 0.1 … silently
    with pytest.raises(ValueError, match=message):
        pg.app.Lab(**settings)
    lab = small()
    assert lab.configure(**settings) is False
    assert re.search(message, lab.message.value)
    assert lab.controls["steps"].value == 20 and lab.controls["batch_size"].value == 16


def test_lab_rejects_bad_refresh_and_unknown_settings():
    for bad in ("x", 0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="refresh_seconds must be a positive finite number"):
            pg.app.Lab(refresh_seconds=bad)
    lab = small()
    assert lab.configure(colour="red") is False and "unknown setting colour" in lab.message.value
    with pytest.raises(ValueError, match="contenders must be a list of names"):
        RaceConfig(contenders="A2C")


def _wait_for(predicate, timeout=60):
    deadline = time.time() + timeout
    while not predicate() and time.time() < deadline:
        time.sleep(0.01)
    return predicate()


def test_stop_pauses_and_train_resumes_the_same_race():
    lab = small(steps=30, contenders=("REINFORCE",))
    lab.buttons["Train"].click()
    assert _wait_for(lambda: lab.race is not None and lab.race.step >= 3)
    lab.buttons["Stop"].click()
    lab.wait(30)
    race, paused_at = lab.race, lab.race.step
    first_row = race.runs[0].history.rows[0]
    assert paused_at < 30 and lab.paused and "paused at step" in lab.status.value
    assert not lab.buttons["Train"].disabled and not lab.controls["steps"].disabled
    lab.buttons["Train"].click()
    lab.wait(60)
    assert lab.race is race and race.runs[0].history.rows[0] is first_row      # resumed, not restarted
    assert race.step == 30 and len(race.runs[0].history) == 30 and "finished" in lab.status.value
    assert [p.step for p in race.points] == [0, 10, 20, 30]                    # no meter point twice
    lab.buttons["Reset"].click()
    assert lab.race is None and lab.results == {}


def test_train_reacts_at_once_and_a_double_click_is_harmless(monkeypatch):
    gate = threading.Event()
    real = pg.app.Race

    def slow_race(cfg):
        gate.wait(30)                        # building the race is the slow part (seconds on a laptop)
        return real(cfg)

    monkeypatch.setattr(pg.app, "Race", slow_race)
    lab = small(steps=10, contenders=("REINFORCE",))
    lab.buttons["Train"].click()
    assert lab.buttons["Train"].disabled and lab.buttons["Train"].description == "starting…"
    assert lab.status.value.startswith("starting")
    assert lab.train() is False and lab.message.value == ""                   # a second click: no red error
    gate.set()
    lab.wait(60)
    assert "finished" in lab.status.value and lab.message.value == ""
    assert lab.buttons["Train"].description == "Train" and not lab.buttons["Train"].disabled


def test_typed_values_are_taken_exactly_or_refused_with_a_message():
    lab = small()
    lab.typed["steps"].value = "1e3"
    assert lab.controls["steps"].value == 1000 and lab.message.value == ""
    lab.typed["gamma"].value = "nan"
    assert lab.controls["gamma"].value == 1.0 and "γ (discount) takes a number in [0, 1]" in lab.message.value
    assert lab.typed["gamma"].value == "1"                                    # the box shows the kept value
    lab.typed["batch_size"].value = "30"
    assert lab.controls["batch_size"].value == 16 and "in steps of 8" in lab.message.value
    lab.typed["lr"].value = "abc"
    assert "learning rate takes a number in [1e-05, 0.1]" in lab.message.value and "abc" in lab.message.value
    assert "is not a number" in lab.message.value
    lab.typed["lr"].value = "2e-3"
    assert lab.controls["lr"].value == pytest.approx(2e-3) and lab.message.value == ""
    lab.controls["seeds"].value = 3
    assert lab.typed["seeds"].value == "3"


def test_a_long_race_asks_before_it_starts():
    lab = small()
    assert lab.configure(policy="transformer", batch_size=256, seeds=8, steps=2000)
    assert lab.train() is False and not lab.running
    assert "would take about" in lab.message.value and "press Train again" in lab.message.value
    minutes = int(re.search(r"about (\d+) min", lab.message.value).group(1))
    assert minutes > 30
    assert lab.train() is True                       # the second click starts it
    lab.stop()
    lab.wait(120)
    assert lab.race.step <= 1 and lab.paused


def test_results_have_a_short_repr_with_the_measurements():
    lab = small(contenders=("REINFORCE", "A2C"))
    lab.train(block=True)
    text = repr(lab.results)
    assert len(text) < 1500, text
    assert "A2C:" in text and ("lower than vanilla REINFORCE" in text or "no clear difference" in text
                               or "collapsed" in text)
    assert [p.step for p in lab.results.points] == [0, 10, 20]
    assert all("A2C" in p.variance and p.variance["A2C"].low <= p.variance["A2C"].value for p in lab.results.points)


def test_every_control_and_contender_explains_itself():
    lab = small()
    assert all(len(c.tooltip or "") > 20 for c in lab.controls.values())
    assert "affects 'REINFORCE + baseline' only" in lab.controls["baseline"].tooltip
    assert "A2C and PPO only" in lab.controls["gae_lambda"].tooltip
    assert lab.controls["race:REINFORCE (reward-to-go)"].tooltip.startswith("token t weighted")


def test_only_vanilla_gets_the_right_hint_and_a_failed_train_marks_old_plots():
    lab = small(steps=10, contenders=("REINFORCE",))
    lab.train(block=True)
    assert "Tick another contender" in lab.readout.value and "Race vanilla REINFORCE too" not in lab.readout.value
    assert lab.configure(batch_size=24)
    lab.controls["baseline"].value = "leave_one_out"
    lab.controls["race:REINFORCE"].value = False
    assert lab.train() is False
    assert "contenders must name at least one" in lab.message.value and "previous race" in lab.message.value


def test_the_worker_pauses_when_the_page_stops_answering():
    lab = small(steps=2000, contenders=("REINFORCE",), heartbeat_timeout=0.5)
    lab.train()
    lab.heartbeat.value = 1                        # the browser's Play widget ticked once ...
    assert _wait_for(lambda: not lab.running, 60)  # ... then went silent: the worker pauses
    assert lab.race.step < 2000 and "page stopped answering" in lab.status.value


def test_python_only_use_never_pauses_for_missing_heartbeats():
    lab = small(steps=10, contenders=("REINFORCE",), heartbeat_timeout=0.01)
    lab.train(block=True)
    assert "finished" in lab.status.value


def test_chapter_preset():
    lab = pg.app.Lab.preset("chapter05", steps=20)
    assert lab.config().contenders == ("REINFORCE", "A2C") and lab.config().gae_lambda == 0.9
    with pytest.raises(ValueError, match="unknown preset 'chapter9'"):
        pg.app.Lab.preset("chapter9")


def test_meter_points_at_the_first_and_last_step_are_drawn_whole():
    from pglab.lab.plots import ORDER, RacePanels
    from pglab.lab.meter import Interval, MeterPoint
    names = [n for n in ORDER if n != "REINFORCE"]            # every contender: the widest sideways nudge
    iv = {n: Interval(1.0, 0.5, 1.5) for n in names}
    points = [MeterPoint(s, "REINFORCE", 1.0, iv, iv, {}, None) for s in (0, 50, 100)]
    panels = RacePanels().update({}, points, steps=100)
    for ax in panels.axes[1:]:
        lo, hi = ax.get_xlim()
        xs = [x for line in ax.lines for x in line.get_xdata()]
        assert xs and lo < min(xs) - 0.02 * (hi - lo) and max(xs) + 0.02 * (hi - lo) < hi, (lo, hi, min(xs), max(xs))
    assert len({ax.get_xlim() for ax in panels.axes}) <= 2        # the reward panel keeps the padded range too


def test_typed_learning_rate_shows_the_value_in_use():
    lab = pg.app.Lab(steps=20)
    lab.typed["lr"].value = "0.00123"
    assert lab.controls["lr"].value == 0.00123 and lab.typed["lr"].value == "0.00123"
    assert lab.config().lr == 0.00123


def test_empty_plots_follow_the_steps_slider_before_train():
    lab = pg.app.Lab(steps=100)
    lab.controls["steps"].value = 500
    assert lab._panels.axes[0].get_xlim()[1] > 500
    png = lab.plots[0].value
    lab.controls["steps"].value = 800
    assert lab.plots[0].value != png                           # the page got the new axis


def test_every_control_carries_hover_help_where_the_browser_shows_it():
    import ipywidgets as w
    lab = pg.app.Lab(steps=20)
    for key, control in lab.controls.items():
        assert len(control.tooltip) > 20, key
        # ipywidgets 8 shows `tooltip` on the control only when it has no description (a toggle button always)
        assert isinstance(control, w.ToggleButton) or control.description == "", key


def test_race_config_checks_fields_assigned_later_and_bounds_the_entropy_bonus():
    cfg = RaceConfig()
    with pytest.raises(ValueError, match="batch_size"):
        cfg.batch_size = -5
    assert cfg.batch_size == 32                                   # unchanged after the refusal
    with pytest.raises(ValueError, match=r"entropy_coef must be in \[0, 1\]"):
        RaceConfig(entropy_coef=5.0)
    cfg.steps = 400                                               # a valid change is taken (Train raises steps)
    assert cfg.steps == 400
