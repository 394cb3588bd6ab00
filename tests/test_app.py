import re
"""The live lab driven from Python: the same buttons a student clicks."""
import time

import pytest

import pglab as pg
from pglab.race import Race, RaceConfig


def small(**kw):
    return pg.app.Lab(**{"steps": 20, "batch_size": 16, "measure_every": 5, **kw})


def test_train_click_grows_histories_and_meter():
    lab = small()
    lab.buttons["Train"].click()
    assert lab.running or lab.race.step > 0
    lab.wait(60)
    assert not lab.running
    assert set(lab.results) == {"REINFORCE", "REINFORCE + baseline", "A2C"}
    assert all(len(h) == 20 for hs in lab.results.values() for h in hs)
    assert all(len(m) >= 4 for m in lab.race.meter.values())
    assert lab.status.value.startswith("step 20/20 — finished")
    assert lab.progress.value == 20 and lab.plot.value[:4] == b"\x89PNG"
    assert "lower than vanilla REINFORCE" in lab.readout.value or "higher than vanilla REINFORCE" in lab.readout.value
    assert "→" in lab.samples.value
    assert not lab.buttons["Train"].disabled and lab.buttons["Stop"].disabled


def test_stop_takes_effect_within_one_update():
    lab = small(steps=2000, contenders=("A2C",))
    lab.buttons["Train"].click()
    deadline = time.time() + 30
    while lab.race.step < 3 and lab.running and time.time() < deadline:
        time.sleep(0.01)
    assert lab.running, lab.message.value
    lab.buttons["Stop"].click()
    step_at_click = lab.race.step
    lab.wait(30)
    assert not lab.running
    assert lab.race.step <= step_at_click + 1
    assert "stopped" in lab.status.value


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
    for name in ("REINFORCE", "REINFORCE + baseline", "A2C"):
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
    with pytest.raises(ValueError, match="unknown contender 'PPO'"):
        RaceConfig(contenders=("PPO",))
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
