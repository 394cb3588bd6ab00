"""``python -m pglab`` — headless jobs over the same functions the notebooks use.

    python -m pglab compare --out runs/compare

trains REINFORCE without a baseline and with one on the same task, the same
initial weights and the same seed, then writes ``history.csv`` (one row per run
and step) and ``rewards.png`` (both reward curves) into ``--out``.

    python -m pglab compare --out runs/modern --algos reinforce,a2c,ppo,grpo

races any algorithms of ``pglab.algos.ALGOS`` instead (reinforce with ``--baseline``),
each with its default config at the given batch size, γ and entropy bonus.

A run is never lost: ``--out`` is checked before training starts; if training
stops early (a non-finite reward, loss or gradient, or Ctrl-C) the partial
history and plot are still written, with the reason in ``STOPPED.txt``, and the
exit status is 1 (130 for Ctrl-C). An earlier run in ``--out`` is not overwritten
unless ``--overwrite`` is given.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from . import checks
from .advantages import BASELINES
from .algos import ALGOS, NonFiniteError
from .algos.grpo import GroupConfig
from .algos.reinforce import ReinforceConfig
from .policies import POLICY_KINDS, make_policy, require_hf
from . import grade as grade_cli
from .sweep import cli as sweep_cli
from .tasks import DEFAULT_TASK, TASKS, make_task
from .train import MAX_STEPS, History, train, write_csv


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pglab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sweep_cli.add_parser(sub)                   # python -m pglab sweep (pglab/sweep/cli.py)
    grade_cli.add_parser(sub)                   # python -m pglab grade (pglab/grade.py)
    p = sub.add_parser("compare", help="REINFORCE without vs with a baseline (or --algos); writes CSV and PNG",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", required=True, help="directory for history.csv and rewards.png (created if missing)")
    p.add_argument("--overwrite", action="store_true", help="replace the results of an earlier run in --out")
    p.add_argument("--task", default=DEFAULT_TASK, help=f"task name, one of: {', '.join(TASKS)}")
    p.add_argument("--policy", default="gru", help=f"policy type, one of: {', '.join(POLICY_KINDS)} "
                                                  "(hf-*: a tiny Hugging Face model, needs the [hf] extra)")
    p.add_argument("--algos", default=None,
                   help=f"comma-separated algorithms to compare instead of REINFORCE without vs with a baseline, "
                        f"from: {', '.join(ALGOS)} (e.g. reinforce,a2c,ppo,grpo)")
    p.add_argument("--baseline", default=None,
                   help=f"baseline of the second run (of reinforce with --algos), default batch_mean; one of: "
                        f"{', '.join(b for b in BASELINES if b != 'none')}")
    p.add_argument("--group-size", type=int, default=None,
                   help="samples per prompt for the group baselines (default 4 for leave_one_out and group_norm, "
                        "else 1) and for rloo, grpo, dr_grpo (default 8)")
    p.add_argument("--steps", type=int, default=200, help="updates per run (integer >= 1)")
    p.add_argument("--batch-size", type=int, default=64, help="completions per update (integer >= 1)")
    p.add_argument("--lr", type=float, default=3e-3, help=f"Adam learning rate in {checks.LR_RANGE}")
    p.add_argument("--gamma", type=float, default=1.0, help="discount γ in [0, 1]")
    p.add_argument("--entropy-coef", type=float, default=0.0,
                   help=f"entropy bonus weight in [0, {checks.ENTROPY_COEF_MAX:g}]")
    p.add_argument("--hidden-size", type=int, default=None,
                   help="policy width (integer >= 1); default 128 for gru/lstm, 64 for transformer and hf-*")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and sampling")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (CUDA, then MPS, then CPU)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


OUTPUTS = ("history.csv", "rewards.png", "STOPPED.txt")


class RunStopped(Exception):
    """Training ended early; the partial results were written. ``code`` is the exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def check_out_dir(raw: str, overwrite: bool) -> tuple[Path, bool]:
    """Validate ``--out`` *before* training: a writable directory holding no earlier run (unless ``overwrite``).

    Returns ``(out, created)``. Nothing earlier is deleted here: an earlier run is replaced file by file only when
    the new run writes its own results (:func:`write_results`), so a run that fails to start loses nothing.
    """
    if not raw.strip():
        raise ValueError("--out must name a directory, got an empty string")
    out = Path(raw).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a directory, but {out} is a file")
    earlier = [name for name in OUTPUTS if (out / name).exists()]
    if earlier and not overwrite:
        raise ValueError(f"--out {out} already holds an earlier run ({', '.join(earlier)}); "
                         "choose another directory or pass --overwrite")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".pglab-write-test-{id(out)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"--out {out} is not writable ({err.strerror or err})") from None
    return out, created


@contextmanager
def no_interrupts():
    """Ignore Ctrl-C while the results are written (a second Ctrl-C must not leave half a PNG or CSV)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def write_results(out: Path, histories: dict[str, History], title: str, stopped: RunStopped | None) -> None:
    """STOPPED.txt first (so a run cut short never looks complete), then history.csv, then rewards.png.

    Each file is written under a temporary name and renamed over the earlier run's, so an earlier run's file
    is replaced only by a complete new one; an earlier STOPPED.txt goes once the new history is in place.
    """
    from .plots import reward_curves, save

    def replace(name: str, write) -> None:
        tmp = out / f".partial-{name}"      # keeps the suffix: matplotlib reads the format from it
        try:
            write(tmp)
            os.replace(tmp, out / name)
        finally:
            tmp.unlink(missing_ok=True)

    if stopped is not None:
        replace("STOPPED.txt", lambda p: p.write_text(str(stopped) + "\n"))
    replace("history.csv", lambda p: write_csv(p, histories))
    if stopped is None:
        (out / "STOPPED.txt").unlink(missing_ok=True)          # the earlier run's reason, not this one's
    fig = reward_curves({n: h for n, h in histories.items() if len(h)}, title=title)
    replace("rewards.png", lambda p: save(fig, p))


def compare(args: argparse.Namespace) -> dict[str, History]:
    """Run both contenders and write the CSV and PNG; returns the Histories.

    Every value is checked, the task and the policies built, before ``--out`` is touched. Raises
    :class:`RunStopped` after writing the partial results if training stops early.
    """
    from tqdm.auto import tqdm

    runs = compare_plan(args)                        # bad names and values fail here, before --out is touched
    checks.learning_rate("--lr", args.lr)
    checks.positive_int("--steps", args.steps, maximum=MAX_STEPS)
    checks.seed("--seed", args.seed)
    checks.choice("policy", args.policy, POLICY_KINDS)
    try:
        require_hf(args.policy)
    except ModuleNotFoundError as err:               # one line through parser.error, not a traceback
        raise ValueError(str(err)) from None
    task = make_task(args.task)
    configs = {name: config for name, (_, config) in runs.items()}
    critic = lambda algo, config: algo in ("a2c", "ppo") or getattr(config, "baseline", "") == "value"  # noqa: E731
    policies = {name: make_policy(args.policy, task, hidden_size=args.hidden_size,
                                  value_head="separate" if critic(algo, config) else None,  # a critic where needed
                                  seed=args.seed, device=args.device)
                for name, (algo, config) in runs.items()}
    out, created = check_out_dir(args.out, args.overwrite)
    histories: dict[str, History] = {}
    stopped: RunStopped | None = None
    bar = tqdm(total=args.steps * len(runs), disable=args.no_progress, unit="step")

    def tick(step: int, stats: dict, history: History) -> None:
        bar.update(1)
        bar.set_postfix(reward=f"{stats['reward/mean']:.3f}", refresh=False)

    try:
        for name, config in configs.items():
            bar.set_description(name)
            histories[name] = History()
            train(policies[name], task, runs[name][0], config=config, steps=args.steps, lr=args.lr, seed=args.seed,
                  callbacks=[tick], history=histories[name])
    except NonFiniteError as err:
        stopped = RunStopped(f"run {name!r} stopped at step {len(histories[name])}: {err}", 1)
    except KeyboardInterrupt:
        stopped = RunStopped(f"run {name!r} interrupted (Ctrl-C) at step {len(histories[name])}", 130)
    except BaseException:
        if created and not any(out.iterdir()):
            out.rmdir()                              # a run that wrote nothing leaves no empty folder
        raise
    finally:
        bar.close()
    title = (f"{'REINFORCE' if args.algos is None else ', '.join(runs)} on '{task.name}' "
             f"({args.policy}, seed {args.seed})")
    with no_interrupts():
        write_results(out, histories, title, stopped)
    if stopped is not None:
        raise stopped
    for name, h in histories.items():
        last = h["reward/mean"][-20:]
        print(f"{name:>24}: mean reward over the last {len(last)} steps = {sum(last) / len(last):.3f}")
    print(f"wrote {out / 'history.csv'} and {out / 'rewards.png'}")
    return histories


def parse_algos(raw: str) -> list[str]:
    """``--algos a,b,c`` → a list of distinct names from :data:`pglab.algos.ALGOS`."""
    names = [n.strip() for n in raw.split(",")]
    if not raw.strip() or not all(names):
        raise ValueError(f"--algos must be a comma-separated list of algorithm names such as reinforce,a2c,ppo,grpo; "
                         f"got {raw!r}")
    for name in names:
        checks.choice("algorithm in --algos", name, list(ALGOS))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"--algos names {', '.join(repeated)} more than once")
    return names


def compare_plan(args: argparse.Namespace) -> dict[str, tuple[str, object]]:
    """Run name → (algorithm, config) for ``compare``; every value is checked here, before any training."""
    baseline = "batch_mean" if args.baseline is None else args.baseline
    checks.choice("baseline", baseline, [b for b in BASELINES if b != "none"])
    grouped = "groups" in getattr(BASELINES[baseline], "needs", ())
    k = args.group_size if args.group_size is not None else (4 if grouped else 1)
    common = dict(batch_size=args.batch_size, gamma=args.gamma, entropy_coef=args.entropy_coef)
    if args.algos is None:
        return {"no baseline": ("reinforce", ReinforceConfig(baseline="none", **common)),
                f"baseline: {baseline}": ("reinforce", ReinforceConfig(baseline=baseline, group_size=k, **common))}
    algos = parse_algos(args.algos)
    group_algos = [a for a in algos if issubclass(ALGOS[a][0], GroupConfig)]
    if args.baseline is not None and "reinforce" not in algos:
        raise ValueError(f"--baseline applies to reinforce only, which is not in --algos {args.algos!r}")
    if args.group_size is not None and not group_algos and not ("reinforce" in algos and grouped):
        raise ValueError("--group-size applies to rloo, grpo, dr_grpo and to reinforce with a group baseline "
                         f"(leave_one_out, group_norm); none is in --algos {args.algos!r}")
    plan: dict[str, tuple[str, object]] = {}
    for algo in algos:
        config_cls = ALGOS[algo][0]
        if algo == "reinforce":
            plan[f"reinforce ({baseline})"] = (algo, ReinforceConfig(baseline=baseline, group_size=k, **common))
        elif algo in group_algos and args.group_size is not None:
            plan[algo] = (algo, config_cls(group_size=args.group_size, **common))
        else:
            plan[algo] = (algo, config_cls(**common))
    return plan


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "compare":
            compare(args)
        elif args.command == "sweep":
            return sweep_cli.run(args)
        elif args.command == "grade":
            return grade_cli.run(args)
    except ValueError as err:
        parser.error(str(err))  # exit status 2, message on stderr, no traceback
    except ModuleNotFoundError as err:                # an optional extra that was not installed: say which
        if args.command not in checks.EXTRA_OF_COMMAND or (err.name or "").split(".")[0] == "pglab":
            raise
        extra = checks.EXTRA_OF_COMMAND[args.command]
        print(f"pglab: {checks.missing_extra(f'python -m pglab {args.command}', extra, err)}", file=sys.stderr)
        return 2
    except RunStopped as stop:
        print(f"pglab: {stop}\npglab: partial results written to {args.out} (history.csv, rewards.png, "
              "STOPPED.txt)", file=sys.stderr)
        return stop.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
