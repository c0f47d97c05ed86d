"""``enet-edge train``: argparse -> :class:`~enet_edge.workstation.train.config.TrainConfig` ->
:func:`~enet_edge.workstation.train.loop.train`.
"""

from __future__ import annotations

from pathlib import Path

from enet_edge.errors import EXIT_TERMINATED, Interrupted, Terminated
from enet_edge.workstation.run_dir import percent
from enet_edge.workstation.train.config import TrainConfig
from enet_edge.workstation.train.loop import train


def add_cli(sub) -> None:
    """``enet-edge train``."""
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
    p.add_argument("--select-window", type=int, default=3,
                   help="best_weights.npz: the epoch where the mean of the last N val mIoUs peaks (1: the top one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit-train", type=int, help="use only the first N training frames (smoke runs)")
    p.add_argument("--limit-val", type=int, help="use only the first N validation frames (smoke runs)")
    p.add_argument("--max-steps", type=int, help="stop after N optimizer steps in total (smoke runs)")
    p.add_argument("--init-weights", help="start a new run from these weights (.npz)")
    p.add_argument("--num-classes", type=int, help="classes of your data set (default: the class file's, else 12)")
    p.add_argument("--classes", help="class file: names, colours, ignore_label (JSON or TOML; docs/import.md); "
                                     "default: CamVid's classes")
    p.add_argument("--strategy", choices=("auto", "default", "mirrored", "multi-worker"), default="auto",
                   help="tf.distribute: one device (default), every local GPU (mirrored), the machines of TF_CONFIG "
                        "(multi-worker); auto picks multi-worker with a TF_CONFIG cluster, mirrored with 2+ GPUs, "
                        "else default. --batch is the global batch (docs/training.md)")
    p.add_argument("--scale", type=float, nargs=2, metavar=("MIN", "MAX"), default=(1.0, 1.0),
                   help="rescale each frame by a random factor in [MIN, MAX] before the crop (labels by nearest "
                        "neighbour; a frame smaller than the crop is padded with the ignore label); default 1 1: none")
    p.add_argument("--train-splits", choices=("train", "train+val"), default="train",
                   help="train+val: the final weights of a recipe chosen on val also learn from val; best_weights.npz "
                        "is then the last epoch (val is no held-out score) and the weights card says so")
    p.set_defaults(func=run_train)
    r = sub.add_parser("runs", help="compare training runs: mean val mIoU and per-class IoU of their last validations")
    r.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories of enet-edge train (the first is "
                                                                    "the reference of the mIoU difference)")
    r.add_argument("--window", type=int, default=3, help="validations averaged per run (default 3)")
    r.add_argument("--epoch", type=int, help="compare at this epoch: the validations up to it (default: each run's last)")
    r.add_argument("--classes", nargs="+", metavar="NAME", help="class columns (default: every class)")
    r.set_defaults(func=run_runs)


def run_train(args) -> int:
    cfg = TrainConfig(
        run_dir=args.run_dir, data_dir=args.data_dir, epochs=args.epochs, batch=args.batch,
        crop_height=args.crop[0], crop_width=args.crop[1], learning_rate=args.lr, weight_decay=args.weight_decay,
        schedule=args.schedule, class_weighting=args.class_weighting, val_every=args.val_every,
        select_window=args.select_window, seed=args.seed,
        limit_train=args.limit_train, limit_val=args.limit_val, max_steps=args.max_steps,
        init_weights=args.init_weights, num_classes=args.num_classes, classes_file=args.classes,
        strategy=args.strategy, train_splits=args.train_splits, scale_min=args.scale[0], scale_max=args.scale[1],
    )
    try:
        state = train(cfg)
    except KeyboardInterrupt as exc:
        kept = (f"{cfg.run_dir} holds the last finished epoch: run the same command to resume"
                if (Path(cfg.run_dir) / "state.json").is_file() else "no epoch finished, nothing was kept")
        error = Interrupted(f"{'terminated' if isinstance(exc, Terminated) else 'interrupted (Ctrl-C)'}; {kept}")
        if isinstance(exc, Terminated):
            error.exit_code = EXIT_TERMINATED
        raise error from None
    print(f"done: epoch {state['epoch']}; kept epoch {state['best_epoch']} (val mIoU {percent(state['best_miou'])}, "
          f"mean of the last {cfg.select_window} validations {percent(state['best_score'])}) in "
          f"{cfg.run_dir}/best_weights.npz")
    return 0


def run_runs(args) -> int:
    from enet_edge.workstation.compare_runs import compare_markdown, summarize_run

    summaries = [summarize_run(d, args.window, args.epoch) for d in args.run_dirs]
    print(compare_markdown(summaries, args.classes))
    return 0
