import csv
import subprocess
import sys

import pytest

from pglab.cli import main


def test_compare_writes_csv_and_png(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["compare", "--out", str(out), "--steps", "6", "--batch-size", "8", "--hidden-size", "16",
                 "--no-progress"]) == 0
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert {r["run"] for r in rows} == {"no baseline", "baseline: batch_mean"}
    assert len(rows) == 12 and "reward/mean" in rows[0]
    png = (out / "rewards.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert "mean reward over the last" in capsys.readouterr().out


def test_help_documents_every_option():
    text = subprocess.run([sys.executable, "-m", "pglab", "compare", "--help"],
                          capture_output=True, text=True, check=True).stdout
    for option in ["--out", "--overwrite", "--task", "--policy", "--baseline", "--group-size", "--steps", "--batch-size", "--lr", "--gamma",
                   "--entropy-coef", "--hidden-size", "--seed", "--device", "--no-progress"]:
        assert option in text


@pytest.mark.parametrize("args,message", [
    (["--gamma", "1.5"], "gamma must be in [0, 1], got 1.5"),
    (["--lr", "0"], "lr must be in (0, 1], got 0.0"),
    (["--lr", "1e9"], "lr must be in (0, 1], got 1000000000.0"),
    (["--steps", "0"], "steps must be an integer >= 1 and <= 1,000,000, got 0"),
    (["--device", "cuda:7"], "device 'cuda:7' is not available"),
    (["--task", "nope"], "unknown task 'nope'; known:"),
    (["--policy", "rnn"], "unknown policy 'rnn'; known:"),
    (["--baseline", "none"], "unknown baseline 'none'; known: 'batch_mean', 'moving_average', 'leave_one_out'"),
])
def test_bad_cli_input_is_a_clear_error(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["compare", "--out", str(tmp_path), "--no-progress", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("baseline", ["leave_one_out", "value", "greedy"])
def test_compare_runs_with_the_other_baselines(tmp_path, baseline):
    assert main(["compare", "--out", str(tmp_path), "--steps", "2", "--batch-size", "8", "--hidden-size", "16",
                 "--baseline", baseline, "--no-progress"]) == 0
    assert (tmp_path / "history.csv").exists()


def test_bad_group_size_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--out", str(tmp_path), "--baseline", "leave_one_out", "--batch-size", "10",
              "--group-size", "4", "--no-progress"])
    assert "group_size must divide batch_size=10, got 4" in capsys.readouterr().err
