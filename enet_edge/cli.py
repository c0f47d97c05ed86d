"""``enet-edge`` command line: converts arguments into frozen configs and calls the pipeline stages.

Nothing below this module sees argparse. Errors raised on purpose (:class:`EnetEdgeError`) print as
one line on stderr with a non-zero exit; no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Dict, List, Optional

from .errors import EnetEdgeError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train ENet on CamVid (resumable)")
    p.add_argument("--data-dir", help="CamVid root (default: $ENET_EDGE_CAMVID, then ../shared/camvid)")
    p.add_argument("--run-dir", default="runs/enet_camvid", help="checkpoints, log.csv, curve.png (resumes if present)")
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"), default=(192, 256),
                   help="random crop at full scale (multiples of 8)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--weight-decay", type=float, default=2e-4)
    p.add_argument("--schedule", choices=("cosine", "step"), default="cosine")
    p.add_argument("--class-weighting", choices=("enet", "mfb", "none"), default="enet")
    p.add_argument("--val-every", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit-train", type=int, help="use only the first N training frames (smoke runs)")
    p.add_argument("--limit-val", type=int, help="use only the first N validation frames (smoke runs)")
    p.add_argument("--max-steps", type=int, help="stop after N optimizer steps in total (smoke runs)")
    p.add_argument("--init-weights", help="start a new run from these weights (.npz)")
    p.set_defaults(func=_run_train)


def _run_train(args) -> int:
    from .train import TrainConfig, train

    cfg = TrainConfig(
        run_dir=args.run_dir, data_dir=args.data_dir, epochs=args.epochs, batch=args.batch,
        crop_height=args.crop[0], crop_width=args.crop[1], learning_rate=args.lr, weight_decay=args.weight_decay,
        schedule=args.schedule, class_weighting=args.class_weighting, val_every=args.val_every, seed=args.seed,
        limit_train=args.limit_train, limit_val=args.limit_val, max_steps=args.max_steps,
        init_weights=args.init_weights,
    )
    state = train(cfg)
    print(f"done: epoch {state['epoch']}, best val mIoU {state['best_miou']:.4f} at epoch {state['best_epoch']}; "
          f"weights in {cfg.run_dir}/best_weights.npz")
    return 0


COMMANDS: List[Callable] = [_add_train]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enet-edge", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EnetEdgeError as exc:
        print(f"enet-edge {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"enet-edge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
