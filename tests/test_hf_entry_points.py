"""The entry points that build a policy by name — ``python -m pglab compare`` and the sweep runner —
accept the Hugging Face kinds ("hf-gpt2", "hf-llama", "hf-qwen2"): a tiny model from its config over
the task's own vocabulary. Nothing is downloaded."""
import csv

import pytest
import torch

pytest.importorskip("transformers")

import pglab as pg  # noqa: E402
from pglab.cli import main  # noqa: E402
from pglab.policies import HF_KINDS, TRUNKS, make_policy  # noqa: E402
from pglab.sweep import expand, load, run_sweep  # noqa: E402
from pglab.train import save_checkpoint  # noqa: E402


def test_compare_runs_on_a_hugging_face_model(tmp_path):
    out = tmp_path / "run"
    assert main(["compare", "--policy", "hf-gpt2", "--algos", "reinforce,a2c", "--out", str(out), "--steps", "2",
                 "--batch-size", "8", "--hidden-size", "16", "--no-progress"]) == 0
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert {r["run"] for r in rows} == {"reinforce (batch_mean)", "a2c"} and len(rows) == 4
    assert (out / "rewards.png").read_bytes()[:4] == b"\x89PNG"


def test_one_run_sweep_on_a_hugging_face_model(tmp_path):
    grid = {"task": "copy-sparse", "policy": "hf-gpt2", "steps": 2, "batch_size": 8, "hidden_size": 16,
            "variants": {"A2C": {"algo": "a2c"}}}            # a2c: value_head "auto" gives it a critic
    specs = expand(grid, 1)
    report = run_sweep(specs, out=tmp_path)
    assert not report.failed
    table = load(tmp_path, specs)
    assert list(table["step"]) == [0, 1] and (table["status"] == "ok").all()


@pytest.mark.parametrize("kind", list(HF_KINDS))
def test_make_policy_builds_each_kind_with_a_value_head(kind):
    task = pg.make_task("copy-sparse")
    policy = make_policy(kind, task, hidden_size=16, value_head="separate", seed=3)
    assert isinstance(policy, pg.hf.HFPolicy) and policy.has_value and policy.vocab_size == len(task.vocab)
    again = make_policy(kind, task, hidden_size=16, value_head="separate", seed=3)
    assert all(torch.equal(a, b) for a, b in zip(policy.parameters(), again.parameters()))


def test_bad_names_are_refused_with_the_known_names(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--policy", "hf-gtp2", "--out", str(tmp_path / "x"), "--no-progress"])
    err = capsys.readouterr().err
    assert "unknown policy 'hf-gtp2'" in err and "'hf-gpt2'" in err and "'gru'" in err
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match=r"unknown policy 'hf-gtp2'; known: .*'hf-qwen2'"):
        run_sweep({"policy": "hf-gtp2"}, 1, tmp_path / "out")
    with pytest.raises(ValueError, match="needs the task itself"):
        make_policy("hf-gpt2", 8)


def test_the_lab_dropdown_lists_only_pglabs_own_trunks():
    assert not set(HF_KINDS) & set(TRUNKS)


def test_checkpoints_refuse_a_hugging_face_policy_clearly(tmp_path):
    policy = make_policy("hf-gpt2", pg.make_task("copy-sparse"), hidden_size=16)
    with pytest.raises(ValueError, match="save_pretrained"):
        save_checkpoint(tmp_path / "p.pt", policy)
    assert not (tmp_path / "p.pt").exists()
    spec = {**make_policy("gru", 8).spec, "kind": "hf-gpt2"}   # a file claiming an HF kind
    with pytest.raises(ValueError, match="Hugging Face model, which pglab's checkpoints do not hold"):
        pg.policies.validate_spec(spec)


def test_missing_transformers_is_a_one_line_error_naming_the_extra(tmp_path, capsys, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "transformers" else real(name, *a))
    with pytest.raises(SystemExit):
        main(["compare", "--policy", "hf-llama", "--out", str(tmp_path / "x"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert 'pip install "pglab[hf]"' in err[-1]
    with pytest.raises(ValueError, match=r"\[hf\] extra"):
        run_sweep({"policy": "hf-qwen2"}, 1, tmp_path / "out")
