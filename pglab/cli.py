"""``python -m pglab`` — headless jobs over the same functions the notebooks use.

    python -m pglab compare --out runs/compare

trains REINFORCE without a baseline and with one on the same task, the same
initial weights and the same seed, then writes ``history.csv`` (one row per run
and step) and ``rewards.png`` (both reward curves) into ``--out``.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import checks
from .advantages import BASELINES
from .algos.reinforce import ReinforceConfig
from .policies import TRUNKS, make_policy
from .tasks import DEFAULT_TASK, TASKS, make_task
from .train import History, train, write_csv


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pglab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compare", help="REINFORCE without vs with a baseline; writes CSV and PNG",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="directory for history.csv and rewards.png")
    p.add_argument("--task", default=DEFAULT_TASK, help=f"task name, one of: {', '.join(TASKS)}")
    p.add_argument("--policy", default="gru", help=f"policy type, one of: {', '.join(TRUNKS)}")
    p.add_argument("--baseline", default="batch_mean",
                   help=f"baseline of the second run, one of: {', '.join(b for b in BASELINES if b != 'none')}")
    p.add_argument("--group-size", type=int, default=None,
                   help="samples per prompt for the group baselines (default 4 for leave_one_out and group_norm, else 1)")
    p.add_argument("--steps", type=int, default=200, help="updates per run (integer >= 1)")
    p.add_argument("--batch-size", type=int, default=64, help="completions per update (integer >= 1)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (> 0)")
    p.add_argument("--gamma", type=float, default=1.0, help="discount γ in [0, 1]")
    p.add_argument("--entropy-coef", type=float, default=0.0, help="entropy bonus weight (>= 0)")
    p.add_argument("--hidden-size", type=int, default=None,
                   help="policy width (integer >= 1); default 128 for gru/lstm, 64 for transformer")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and sampling")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (CUDA, then MPS, then CPU)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def compare(args: argparse.Namespace) -> dict[str, History]:
    """Run both contenders and write the CSV and PNG; returns the Histories."""
    from tqdm.auto import tqdm

    from .plots import reward_curves, save

    checks.choice("baseline", args.baseline, [b for b in BASELINES if b != "none"])
    task = make_task(args.task)
    runs = {"no baseline": "none", f"baseline: {args.baseline}": args.baseline}
    grouped = "groups" in getattr(BASELINES[args.baseline], "needs", ())
    k = args.group_size if args.group_size is not None else (4 if grouped else 1)
    configs = {name: ReinforceConfig(batch_size=args.batch_size, gamma=args.gamma, baseline=b,
                                     group_size=k if b != "none" else 1, entropy_coef=args.entropy_coef)
               for name, b in runs.items()}
    histories: dict[str, History] = {}
    bar = tqdm(total=args.steps * len(runs), disable=args.no_progress, unit="step")
    for name, config in configs.items():
        value_head = "separate" if config.baseline == "value" else None     # a critic to learn the baseline
        policy = make_policy(args.policy, len(task.vocab), hidden_size=args.hidden_size,
                             value_head=value_head, seed=args.seed, device=args.device)
        bar.set_description(name)

        def tick(step: int, stats: dict, history: History) -> None:
            bar.update(1)
            bar.set_postfix(reward=f"{stats['reward/mean']:.3f}", refresh=False)

        histories[name] = train(policy, task, config=config, steps=args.steps, lr=args.lr,
                                seed=args.seed, callbacks=[tick])
    bar.close()
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "history.csv", histories)
    fig = reward_curves(histories, title=f"REINFORCE on '{task.name}' ({args.policy}, seed {args.seed})")
    save(fig, args.out / "rewards.png")
    for name, h in histories.items():
        last = h["reward/mean"][-20:]
        print(f"{name:>24}: mean reward over the last {len(last)} steps = {sum(last) / len(last):.3f}")
    print(f"wrote {args.out / 'history.csv'} and {args.out / 'rewards.png'}")
    return histories


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "compare":
            compare(args)
    except ValueError as err:
        parser.error(str(err))  # exit status 2, message on stderr, no traceback
    return 0


if __name__ == "__main__":
    sys.exit(main())
