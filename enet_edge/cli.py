"""``enet-edge`` command line: converts arguments into frozen configs and calls the pipeline stages.

Nothing below this module sees argparse. Errors raised on purpose (:class:`EnetEdgeError`) print as
one line on stderr with a non-zero exit; no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, List, Optional

from enet_edge.errors import EnetEdgeError

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
    from enet_edge.apps.train import TrainConfig, train

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


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="freeze -> ONNX -> OpenVINO IR for a target, gated and parity-checked")
    p.add_argument("--target", default="ncs2", help="a name from export/ (ncs2, cpu, ncs1, ...) or a .toml path")
    p.add_argument("--weights", help="weights .npz (default: weights/enet_camvid.npz, else seeded random)")
    p.add_argument("--height", type=int, help="static input height (default: the target's, 360)")
    p.add_argument("--width", type=int, help="static input width (default: the target's, 480)")
    p.add_argument("--out", help="output directory (default: build/<target>)")
    p.add_argument("--data-dir", help="CamVid root for the parity frames")
    p.add_argument("--seed", type=int, default=0, help="seed for random weights/parity inputs")
    p.set_defaults(func=_run_export)


def _run_export(args) -> int:
    from pathlib import Path

    from enet_edge.export.pipeline import ExportRequest, export
    from enet_edge.export.targets import load_target

    target = load_target(args.target)
    request = ExportRequest(
        target=target, out_dir=Path(args.out or f"build/{target.name}"),
        weights=Path(args.weights) if args.weights else None, height=args.height, width=args.width,
        data_dir=Path(args.data_dir) if args.data_dir else None, seed=args.seed,
    )
    result = export(request, log=lambda m: print(m, file=sys.stderr))
    print(summarize_export(result.manifest, result.out_dir, result.seconds))
    return 0


def summarize_export(manifest: dict, out_dir, seconds: float) -> str:
    lines = [f"exported target {manifest['target']} to {out_dir}/ in {seconds:.1f} s"]
    if not manifest["weights"].get("trained"):
        lines.append("  !!! UNTRAINED: random seeded weights (no trained weights shipped); the model segments nothing !!!")
    ran_on = manifest["parity"]["ran_on"]
    for kind, art in manifest["artifacts"].items():
        parity = manifest["parity"]["results"][kind]
        lines.append(f"  {art['file']:<16} {art['bytes'] / 1e6:6.2f} MB  argmax agreement "
                     f"{100 * parity['argmax_agreement']:.3f}%  max|diff|/max|ref| {parity['max_abs_rel']:.1e}  "
                     f"({ran_on[kind]['inference_precision']})")
    rows = (("fp16_arithmetic", "FP16 arithmetic", "emulated"), ("openvino_ir_f16", "enet.xml in f16", "OpenVINO"))
    for kind, title, how in rows:
        result = manifest["parity"]["results"].get(kind)
        if result:
            lines.append(f"  {title:<16} {how:>9}  argmax agreement {100 * result['argmax_agreement']:.3f}%  "
                         f"max|diff|/max|ref| {result['max_abs_rel']:.1e}")
        elif "skipped" in ran_on.get(kind, {}):
            lines.append(f"  {title:<16} not run: {ran_on[kind]['skipped']}")
    for kind, check in manifest["checks"].items():
        verdict = "ok" if check["ok"] else f"{len(check['violations'])} VIOLATIONS"
        lines.append(f"  check {kind:<12} {check['ruleset']:<24} {verdict}")
    if not manifest["supported"]:
        lines.append(f"  target {manifest['target']} CANNOT run this model: see {out_dir}/report.md")
    lines.append(f"  report: {out_dir}/report.md")
    return "\n".join(lines)


def _add_check(sub) -> None:
    p = sub.add_parser("check", help="check a .pb/.onnx/.xml against a target's op table (all violations)")
    p.add_argument("path", help="a .pb, .onnx or .xml file, or an export directory")
    p.add_argument("--target", default="ncs2")
    p.set_defaults(func=_run_check)


def _run_check(args) -> int:
    from pathlib import Path

    # TensorFlow-free: only a .pb (and the "realization" ruleset) needs it, and only when read
    from enet_edge.export.gates import check_graph, read_graph, ruleset_for, unreadable_here
    from enet_edge.errors import ArtifactError, ConfigError
    from enet_edge.export.targets import ARTIFACT_FILES, load_target

    target = load_target(args.target)
    path = Path(args.path)
    paths = [path / ARTIFACT_FILES[k] for k in target.checks if (path / ARTIFACT_FILES[k]).is_file()] if path.is_dir() else [path]
    if not paths:
        raise ConfigError(f"{path} holds none of {', '.join(ARTIFACT_FILES.values())}")
    if path.is_dir():  # an export directory: check what this install can read (a device install has no TensorFlow)
        skipped = {p: why for p in paths if (why := unreadable_here(p))}
        for p, why in skipped.items():
            print(f"{p}: not checked ({why})")
        paths = [p for p in paths if p not in skipped]
        if not paths:
            raise ArtifactError(f"this install can read none of the artifacts in {path}: {'; '.join(skipped.values())}")
    kinds = {".pb": "tensorflow", ".onnx": "onnx", ".xml": "openvino_ir"}
    failed = 0
    for p in paths:
        kind = kinds.get(p.suffix.lower())
        if kind is not None and kind not in target.checks:
            raise ConfigError(f"target {target.name} has no {kind} check; it checks {', '.join(target.checks)}")
        graph = read_graph(p)
        report = check_graph(graph, ruleset_for(kind, target.checks[kind], target))
        if report.ok:
            print(f"{p}: ok against {report.ruleset} ({sum(report.inventory.values())} nodes)")
        else:
            failed += 1
            print(f"{p}: {len(report.violations)} violation(s) against {report.ruleset}")
            print(report.table())
    return 1 if failed else 0


from enet_edge.apps.evaluate import add_cli as _add_eval  # noqa: E402  (enet-edge eval)
from enet_edge.apps.demo import add_cli as _add_demo  # noqa: E402  (enet-edge demo)
from enet_edge.apps.bench import add_cli as _add_bench  # noqa: E402  (enet-edge bench)

COMMANDS: List[Callable] = [_add_train, _add_export, _add_check, _add_eval, _add_demo, _add_bench]


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
    except BrokenPipeError:
        # output piped into e.g. `head`, which closed early: not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
