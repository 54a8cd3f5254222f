"""The ``neurode`` console command.

Subcommands (one parser each, so more can be added next to ``extract``):

``neurode extract CHECKPOINT [--inputs "x=0:5,y=0:5"] [--backend sindy] [--features x,y] ...``
    Prints the closed-form equations of a saved network. CHECKPOINT is a file written by
    ``pinn.symbolic.save_for_extraction`` (a ``torch.save``d dict with the module, its feature
    names, optional output names and default input ranges) or a bare ``torch.save``d
    ``nn.Module`` (then ``--inputs`` names the features). Checkpoints are unpickled: load only
    files you trust.

Also runnable as ``python -m pinn.cli``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser"]


def _add_extract(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract",
        help="print the closed-form equations of a saved network",
        description="Sample a saved network over input ranges and print closed-form equations "
        "found by symbolic regression.",
    )
    p.add_argument("checkpoint", help="file from pinn.symbolic.save_for_extraction, or a torch.save'd nn.Module")
    p.add_argument(
        "--inputs",
        default=None,
        help='input ranges, e.g. "x=0:5,y=0:5" (default: the ranges stored in the checkpoint)',
    )
    p.add_argument("--backend", default="auto", choices=["auto", "sindy", "operon", "pysr"])
    p.add_argument("--outputs", default=None, help="comma-separated output names (default: from checkpoint or f0, f1, ...)")
    p.add_argument("--n-samples", type=int, default=2000, help="number of sampled points (default 2000)")
    p.add_argument("--degree", type=int, default=None, help="sindy: polynomial degree (default 3)")
    p.add_argument("--trig", type=int, default=None, help="sindy: number of sin/cos frequencies (default 0; auto uses 1)")
    p.add_argument("--coef-tol", type=float, default=1e-2, help="drop terms smaller than this share (default 0.01)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latex", action="store_true", help="also print LaTeX")
    p.add_argument("--json", default=None, help="also write the equations to this JSON file")
    p.set_defaults(func=_run_extract)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command."""
    parser = argparse.ArgumentParser(prog="neurode", description="neurode command-line tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_extract(sub)
    return parser


def _run_extract(args: argparse.Namespace) -> int:
    from neurode.utils import write_json
    from pinn.symbolic import SindyRegressor, extract, load_for_extraction, parse_ranges

    ckpt = load_for_extraction(args.checkpoint)
    if args.inputs is not None:
        ranges = parse_ranges(args.inputs)
    elif ckpt["inputs"]:
        ranges = {str(k): tuple(v) for k, v in ckpt["inputs"].items()}
    else:
        raise ValueError("--inputs: expected ranges like 'x=0:5,y=0:5' (the checkpoint stores none), got nothing")
    feature_names = ckpt["feature_names"]
    if feature_names is not None and list(feature_names) != list(ranges):
        raise ValueError(
            f"--inputs: expected ranges for the checkpoint's features {list(feature_names)}, in order, "
            f"got {list(ranges)}"
        )
    outputs = [s.strip() for s in args.outputs.split(",")] if args.outputs else ckpt["output_names"]
    backend: object = args.backend
    if args.degree is not None or args.trig is not None:
        if args.backend not in ("sindy", "auto"):
            raise ValueError(f"--degree/--trig: expected --backend sindy, got {args.backend!r}")
        backend = SindyRegressor(
            degree=3 if args.degree is None else args.degree,
            n_frequencies=0 if args.trig is None else args.trig,
            random_state=args.seed,
        )
    result = extract(
        ckpt["model"],
        ranges,
        backend=backend,
        output_names=outputs,
        n_samples=args.n_samples,
        coef_tol=args.coef_tol,
        seed=args.seed,
    )
    print(result)
    if args.latex:
        for line in result.to_latex():
            print(line)
    if args.json:
        write_json(args.json, result.as_dict())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``neurode``; returns the exit status (0 ok, 2 bad input, 3 missing backend)."""
    from pinn.symbolic import MissingBackendError

    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        return int(args.func(args))
    except MissingBackendError as exc:
        print(f"neurode {args.command}: error: {exc}", file=sys.stderr)
        return 3
    except (ValueError, TypeError) as exc:
        print(f"neurode {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
