"""``compare`` never half-writes a run: everything is checked before ``--out`` is touched, an earlier run is
replaced only by a complete new one, and Ctrl-C — once, twice in quick succession, or during start-up — ends
with one line and a run whose STOPPED.txt says it was cut short."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from pglab import cli

SMALL = ["--steps", "4", "--batch-size", "8", "--hidden-size", "16", "--no-progress"]


def _earlier_run(folder):
    folder.mkdir()
    for name in ("history.csv", "rewards.png", "STOPPED.txt"):
        (folder / name).write_text(f"precious {name}")


@pytest.mark.parametrize("bad", [["--lr", "nan"], ["--hidden-size", "0"], ["--steps", "0"], ["--seed", "-1"],
                                 ["--device", "tpu"], ["--task", "nope"]])
def test_an_invalid_run_keeps_the_earlier_one_and_makes_no_folder(tmp_path, capsys, bad):
    earlier = tmp_path / "run1"
    _earlier_run(earlier)
    with pytest.raises(SystemExit) as info:
        cli.main(["compare", "--out", str(earlier), "--overwrite", *SMALL, *bad])
    assert info.value.code == 2 and "Traceback" not in capsys.readouterr().err
    assert {p.name: p.read_text() for p in earlier.iterdir()} == {n: f"precious {n}" for n in cli.OUTPUTS}
    fresh = tmp_path / "deep" / "run2"
    with pytest.raises(SystemExit):
        cli.main(["compare", "--out", str(fresh), *SMALL, *bad])
    assert not (tmp_path / "deep").exists()


def test_a_crash_in_training_keeps_the_earlier_run_and_leaves_no_empty_folder(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("out of memory")
    monkeypatch.setattr(cli, "train", crash)
    earlier = tmp_path / "run1"
    _earlier_run(earlier)
    for out in (earlier, tmp_path / "run2"):
        with pytest.raises(RuntimeError):
            cli.main(["compare", "--out", str(out), "--overwrite", *SMALL])
    assert {p.name: p.read_text() for p in earlier.iterdir()} == {n: f"precious {n}" for n in cli.OUTPUTS}
    assert not (tmp_path / "run2").exists()


def test_overwrite_replaces_every_file_and_drops_the_old_stop_reason(tmp_path):
    earlier = tmp_path / "run1"
    _earlier_run(earlier)
    assert cli.main(["compare", "--out", str(earlier), "--overwrite", *SMALL]) == 0
    assert sorted(p.name for p in earlier.iterdir()) == ["history.csv", "rewards.png"]
    assert (earlier / "rewards.png").read_bytes()[:4] == b"\x89PNG"


def _interrupt_training(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "train", interrupted)


def test_a_second_ctrl_c_while_writing_does_not_cut_the_results_short(tmp_path, monkeypatch, capsys):
    """The first Ctrl-C stops training; the second arrives inside matplotlib's save: both files are complete."""
    import pglab.plots
    _interrupt_training(monkeypatch)
    real_save = pglab.plots.save

    def save_hit_by_ctrl_c(fig, path, **kw):
        os.kill(os.getpid(), signal.SIGINT)           # delivered at once: the handler runs before the next line
        real_save(fig, path, **kw)
    monkeypatch.setattr(pglab.plots, "save", save_hit_by_ctrl_c)
    out = tmp_path / "run"
    # Python's own Ctrl-C handler, whatever an earlier test or library left installed (restored below)
    earlier = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = cli.main(["compare", "--out", str(out), *SMALL])
    except KeyboardInterrupt:
        pytest.fail("the second Ctrl-C cut the write phase short")
    finally:
        after = signal.signal(signal.SIGINT, earlier)
    assert code == 130 and "interrupted (Ctrl-C)" in capsys.readouterr().err
    assert (out / "rewards.png").read_bytes()[:4] == b"\x89PNG"
    assert "interrupted" in (out / "STOPPED.txt").read_text()
    assert list(csv.reader(open(out / "history.csv")))[0][:2] == ["run", "step"]
    assert after is signal.default_int_handler                                 # Ctrl-C works again afterwards


def test_stopped_txt_is_written_before_anything_that_could_look_complete(tmp_path, monkeypatch):
    _interrupt_training(monkeypatch)
    out = tmp_path / "run"
    seen = []
    real_write_csv = cli.write_csv
    monkeypatch.setattr(cli, "write_csv", lambda path, h: (seen.append((out / "STOPPED.txt").exists()),
                                                            real_write_csv(path, h)))
    assert cli.main(["compare", "--out", str(out), *SMALL]) == 130
    assert seen == [True]


def test_ctrl_c_during_start_up_is_one_line(tmp_path):
    """A Ctrl-C while ``python -m pglab`` still imports torch: one line on stderr, exit 130, no traceback."""
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent("""
        import os, signal, sys
        class CtrlCOnTorch:                       # a real Ctrl-C (SIGINT) just as torch starts to be imported
            def find_spec(self, name, path=None, target=None):
                if name == "torch":
                    os.kill(os.getpid(), signal.SIGINT)
        sys.meta_path.insert(0, CtrlCOnTorch())
    """))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "pglab", "compare", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 130, proc.stderr[-1500:]
    assert proc.stderr.strip() == "pglab: interrupted while starting (Ctrl-C); nothing was written", proc.stderr
