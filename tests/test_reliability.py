"""The edges a user hits first: a light import, runs that are never lost, files that fail clearly,
and nothing accepted that would be silently changed."""
import csv
import subprocess
import sys
import threading
import warnings

import pytest
import torch

import pglab as pg
from pglab import cli
from pglab.algos import NonFiniteError


# ----- packaging and start-up --------------------------------------------------------------------------------------
def test_import_pglab_loads_neither_widgets_nor_matplotlib():
    code = ("import sys, pglab; heavy = [m for m in ('ipywidgets', 'IPython', 'matplotlib', 'sacrebleu') "
            "if m in sys.modules]; print(heavy); import pglab.plots; print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "True"


def test_lazy_modules_are_reachable_and_unknown_names_are_attribute_errors():
    assert pg.plots.reward_curves and pg.race.RaceConfig
    assert "app" in dir(pg)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pg.nope


# ----- the CLI never loses a run -------------------------------------------------------------------------------------
SMALL = ["--steps", "6", "--batch-size", "8", "--hidden-size", "16", "--no-progress"]


class NanAfter:
    """A copy task whose reward turns NaN on the n-th call (a broken reward function)."""

    def __init__(self, n: int) -> None:
        self.base, self.calls, self.n = pg.make_task("copy"), 0, n

    def __getattr__(self, name):
        return getattr(self.base, name)

    def reward(self, prompts, completions, mask):
        self.calls += 1
        r = self.base.reward(prompts, completions, mask)
        return r * float("nan") if self.calls >= self.n else r


def test_nan_reward_writes_the_partial_run_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "make_task", lambda name: NanAfter(4))
    out = tmp_path / "run"
    assert cli.main(["compare", "--out", str(out), *SMALL]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "reward is non-finite (nan)" in err and "partial results" in err
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert len(rows) == 3 and {r["run"] for r in rows} == {"no baseline"}      # the 3 finished updates
    assert (out / "rewards.png").read_bytes()[:4] == b"\x89PNG"
    assert "stopped at step 3" in (out / "STOPPED.txt").read_text()


def test_ctrl_c_writes_the_partial_run_and_exits_130(tmp_path, monkeypatch, capsys):
    real_train = cli.train

    def interrupted(*args, **kwargs):
        def ctrl_c(step, stats, history):
            if step == 1 and kwargs["config"].baseline != "none":
                raise KeyboardInterrupt
        kwargs["callbacks"] = [*kwargs["callbacks"], ctrl_c]
        return real_train(*args, **kwargs)

    monkeypatch.setattr(cli, "train", interrupted)
    out = tmp_path / "run"
    assert cli.main(["compare", "--out", str(out), *SMALL]) == 130
    assert "interrupted (Ctrl-C)" in capsys.readouterr().err
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert [sum(r["run"] == n for r in rows) for n in ("no baseline", "baseline: batch_mean")] == [6, 2]
    assert "interrupted" in (out / "STOPPED.txt").read_text()


def test_out_is_checked_before_training_and_earlier_runs_are_kept(tmp_path, monkeypatch, capsys):
    trained = []
    monkeypatch.setattr(cli, "train", lambda *a, **k: trained.append(1))
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for out, message in [(str(a_file), "is a file"), ("", "--out must name a directory"),
                         ("  ", "--out must name a directory")]:
        with pytest.raises(SystemExit) as info:
            cli.main(["compare", "--out", out, *SMALL])
        assert info.value.code == 2 and message in capsys.readouterr().err
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "history.csv").write_text("precious")
    with pytest.raises(SystemExit):
        cli.main(["compare", "--out", str(earlier), *SMALL])
    assert "already holds an earlier run" in capsys.readouterr().err and trained == []
    assert (earlier / "history.csv").read_text() == "precious"


def test_overwrite_replaces_an_earlier_run(tmp_path):
    (tmp_path / "history.csv").write_text("old")
    (tmp_path / "STOPPED.txt").write_text("old reason")
    assert cli.main(["compare", "--out", str(tmp_path), "--overwrite", *SMALL]) == 0
    assert (tmp_path / "history.csv").read_text().startswith("run,step")
    assert not (tmp_path / "STOPPED.txt").exists()


def test_unwritable_out_is_refused_before_training(tmp_path, capsys):
    blocker = tmp_path / "plain-file"                  # a folder cannot be made inside a file, even by root
    blocker.write_text("x")
    with pytest.raises(SystemExit):
        cli.main(["compare", "--out", str(blocker / "run"), *SMALL])
    assert "not writable" in capsys.readouterr().err


def test_non_finite_reward_is_blamed_on_the_reward_not_the_learning_rate():
    task = NanAfter(1)
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=16)
    before = [p.detach().clone() for p in policy.parameters()]
    with pytest.raises(NonFiniteError, match="reward is non-finite") as info:
        pg.train.train(policy, task, steps=3)
    assert "learning rate" not in str(info.value)
    assert all(torch.equal(a, b) for a, b in zip(before, policy.parameters()))


# ----- checkpoints -----------------------------------------------------------------------------------------------------
@pytest.fixture
def checkpoint(tmp_path):
    policy = pg.make_policy("gru", 8, hidden_size=16)
    path = tmp_path / "policy.pt"
    pg.train.save_checkpoint(path, policy, note="ok")
    return path


@pytest.mark.parametrize("damage,why", [
    (lambda b: b"", "cannot be read"),
    (lambda b: b[: len(b) // 2], "cannot be read"),
    (lambda b: bytes(range(256)) * 8, "cannot be read"),
])
def test_damaged_checkpoints_are_named_not_tracebacks(checkpoint, damage, why):
    checkpoint.write_bytes(damage(checkpoint.read_bytes()))
    with pytest.raises(ValueError, match=f"not a valid pglab checkpoint: {checkpoint} \\({why}") as info:
        pg.train.load_checkpoint(checkpoint)
    assert "weights_only=False" not in str(info.value)


def test_overwritten_tensor_bytes_are_caught_not_loaded_as_nan(checkpoint):
    policy, _ = pg.train.load_checkpoint(checkpoint)
    raw = bytearray(checkpoint.read_bytes())
    target = policy.lm_head.bias.detach().numpy().tobytes()       # find a tensor's bytes in the file
    at = bytes(raw).find(target)
    assert at > 0
    raw[at: at + 8] = b"\xff" * 8                                  # two float32 NaNs
    checkpoint.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="non-finite values in lm_head.bias"):
        pg.train.load_checkpoint(checkpoint)


def test_missing_file_and_foreign_payload_and_huge_spec(tmp_path, checkpoint):
    with pytest.raises(ValueError, match="no such file"):
        pg.train.load_checkpoint(tmp_path / "absent.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="lacks the spec"):
        pg.train.load_checkpoint(tmp_path / "foreign.pt")
    payload = torch.load(checkpoint, weights_only=True)
    payload["spec"]["hidden_size"] = 10 ** 7                       # would allocate petabytes
    torch.save(payload, tmp_path / "huge.pt")
    with pytest.raises(ValueError, match="bad policy spec: hidden_size must be an integer in"):
        pg.train.load_checkpoint(tmp_path / "huge.pt")


def test_metadata_must_be_plain_and_failed_saves_leave_the_old_file(tmp_path, checkpoint, monkeypatch):
    import numpy as np
    policy = pg.make_policy("gru", 8, hidden_size=16)
    with pytest.raises(ValueError, match=r"meta\['score'\] must be plain Python .*numpy.float64"):
        pg.train.save_checkpoint(tmp_path / "x.pt", policy, score=np.float64(0.5))
    assert not (tmp_path / "x.pt").exists()
    good = checkpoint.read_bytes()

    def disk_full(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError):
        pg.train.save_checkpoint(checkpoint, policy)
    assert checkpoint.read_bytes() == good
    assert [p.name for p in checkpoint.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_checkpoint_round_trip_keeps_plain_metadata(checkpoint):
    policy, payload = pg.train.load_checkpoint(checkpoint)
    assert payload["meta"] == {"note": "ok"} and policy.spec["hidden_size"] == 16


# ----- the reference-LM cache -------------------------------------------------------------------------------------------
def _fresh_lm(**kw):
    from pglab import reference_lm as R
    R._MEMO.clear()
    vocab = pg.vocab.Vocab(["a", "b", "c"])
    return R, R.reference_lm(vocab, ["a b", "b c", "c a b"], hidden_size=8, steps=3, **kw)


def test_cache_dir_expands_home_and_treats_empty_as_unset(monkeypatch, tmp_path):
    from pglab.reference_lm import cache_dir
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PGLAB_CACHE", "")
    assert cache_dir() == tmp_path / ".cache" / "pglab"
    monkeypatch.setenv("PGLAB_CACHE", "~/lmcache")
    assert cache_dir() == tmp_path / "lmcache"


def test_unwritable_cache_warns_and_keeps_the_model(monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("PGLAB_CACHE", str(blocker / "cache"))
    with pytest.warns(UserWarning, match="cannot write the reference-LM cache"):
        _, lm = _fresh_lm()
    assert not lm.training


def test_corrupt_cache_file_is_named_and_rebuilt(monkeypatch, tmp_path):
    monkeypatch.setenv("PGLAB_CACHE", str(tmp_path))
    R, first = _fresh_lm()
    [path] = list(tmp_path.glob("reference_lm_*.pt"))
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match=f"cached reference LM {path} is unusable"):
        _, again = _fresh_lm()
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fresh_lm()                                         # the rebuilt file now loads cleanly


def test_threads_building_the_same_lm_do_not_collide(monkeypatch, tmp_path):
    monkeypatch.setenv("PGLAB_CACHE", str(tmp_path))
    from pglab import reference_lm as R
    R._MEMO.clear()
    errors, vocab = [], pg.vocab.Vocab(["a", "b", "c"])

    def build():
        try:
            R.reference_lm(vocab, ["a b", "b c"], hidden_size=8, steps=3)
        except Exception as err:  # pragma: no cover - the failure this test is about
            errors.append(err)

    threads = [threading.Thread(target=build) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [] and len(list(tmp_path.glob("*.pt"))) == 1 and not list(tmp_path.glob("*.tmp"))


# ----- nothing accepted that is silently changed ------------------------------------------------------------------------
@pytest.mark.parametrize("build,message", [
    (lambda: pg.ReinforceConfig(normalize_advantages="False"), "normalize_advantages must be True or False"),
    (lambda: pg.A2CConfig(normalize_advantages=1), "normalize_advantages must be True or False"),
    (lambda: pg.A2CConfig(n_steps=7), "n_steps does not apply to advantage='gae'"),
    (lambda: pg.A2CConfig(advantage="nstep", gae_lambda=0.5), "gae_lambda does not apply to advantage='nstep'"),
    (lambda: pg.ReinforceConfig(batch_size=10 ** 7), "batch_size must be an integer in"),
    (lambda: pg.make_policy("gru", 8, hidden_size=10 ** 6), "hidden_size must be an integer in"),
    (lambda: pg.make_task("translate", metric="chrf"), "the task name already sets metric='bleu'"),
    (lambda: pg.make_task("copy", colour=1), "make_task\\('copy'\\) does not take 'colour'"),
    (lambda: pg.make_task("translate", test_fraction=1.0), "test_fraction must leave both splits non-empty"),
    (lambda: pg.make_task("translate", n_pairs=10 ** 7), "n_pairs must be an integer in"),
    (lambda: pg.make_task("copy", length=10 ** 6), "length must be an integer in"),
])
def test_refused_with_a_message_naming_the_field(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("kwargs,message", [
    ({"seed": "x"}, "seed must be an integer"), ({"seed": 1.5}, "seed must be an integer"),
    ({"seed": None}, "seed must be an integer"), ({"seed": 2 ** 70}, "seed must be an integer"),
    ({"steps": 10 ** 9}, "steps must be an integer in"), ({"lr": 5.0}, r"lr must be in \(0, 1\]"),
    ({"callbacks": None}, "callbacks must be a sequence of functions"),
    ({"config": pg.A2CConfig()}, "config must be a ReinforceConfig for algo='reinforce', got A2CConfig "
                                 "\\(pass algo='a2c'\\)"),
])
def test_train_arguments_are_checked_where_they_enter(kwargs, message):
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=8)
    with pytest.raises(ValueError, match=message):
        pg.train.train(policy, task, steps=kwargs.pop("steps", 1), **kwargs)


def test_sampling_without_a_generator_is_refused():
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=8)
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        pg.sample(policy, task.sample_prompts(2, torch.Generator()), 3, generator=None)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_a_clear_error(checkpoint):
    with pytest.raises(ValueError, match="device 'cuda' is not available on this machine; available: cpu"):
        pg.make_policy("gru", 8, device="cuda")
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        pg.train.load_checkpoint(checkpoint, device="cuda")
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda'"):
        pg.make_policy("gru", 8, device="gpu")


# ----- determinism and the thread count ------------------------------------------------------------------------------------
def _last_losses(threads: int) -> list[str]:
    code = ("import torch, pglab as pg; torch.set_num_threads(%d); out = []\n"
            "for kind in ('gru', 'lstm', 'transformer'):\n"
            "    task = pg.make_task('copy'); p = pg.make_policy(kind, task, hidden_size=32, seed=0)\n"
            "    out.append(repr(pg.train.train(p, task, steps=8, lr=3e-3, seed=0)['loss/policy'][-1]))\n"
            "print(' '.join(out))" % threads)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_same_seed_and_thread_count_give_identical_runs_and_rnns_ignore_the_thread_count():
    # Documented in the README: the GRU and LSTM are bit-identical at any intra-op thread count; the
    # Transformer is bit-identical only at a fixed thread count (its matmul reductions are split by thread).
    one, one_again, two = _last_losses(1), _last_losses(1), _last_losses(2)
    assert one == one_again
    assert one[:2] == two[:2]
