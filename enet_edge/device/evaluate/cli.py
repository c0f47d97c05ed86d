"""``enet-edge eval``: argparse -> :class:`~enet_edge.device.evaluate.config.EvalConfig` ->
:func:`~enet_edge.device.evaluate.run.evaluate`; prints the table.
"""

from __future__ import annotations

from enet_edge.device.evaluate.config import EVAL_BACKENDS, EvalConfig
from enet_edge.device.evaluate.report import format_result
from enet_edge.device.evaluate.run import evaluate
from enet_edge.runtime.precision import PRECISIONS


def add_cli(sub) -> None:
    """Register ``enet-edge eval`` on an argparse subparsers object."""
    p = sub.add_parser("eval", help="mIoU of weights/.pb/.onnx/IR/export dir on a CamVid split, through the device runner")
    p.add_argument("model", help="export directory, .xml, .onnx, .pb, or .npz weights")
    p.add_argument("--split", default="val", help="a split folder of the data directory (default: val)")
    p.add_argument("--data-dir", help="CamVid root (default: $ENET_EDGE_CAMVID, then ../shared/camvid)")
    p.add_argument("--json", dest="json_path", metavar="PATH", help="write the metrics as JSON here")
    p.add_argument("--confusion", metavar="PATH",
                   help="confusion-matrix PNG (default: <json stem>_confusion.png, else build/eval/<model>_<split>_confusion.png)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N frames of the split")
    p.add_argument("--backend", choices=EVAL_BACKENDS, help="default: by file type (directories: OpenVINO IR first)")
    p.add_argument("-d", "--device", default="CPU", help="inference device: CPU, MYRIAD, GPU, AUTO ... (default: CPU)")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help=".npz weights only: input size (default: the weights')")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="arithmetic to measure, required to run as asked (default f32, the model's exact number; "
                        "f16 on MYRIAD); .npz weights: f16 = FP16 weights and activations (Keras float16)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_cli)


def run_cli(args) -> int:
    """``enet-edge eval``: argparse namespace -> :class:`EvalConfig` -> :func:`evaluate`; prints the table."""
    cfg = EvalConfig(
        model=args.model, split=args.split, data_dir=args.data_dir, json_path=args.json_path,
        confusion_path=args.confusion, limit=args.limit, backend=args.backend, device=args.device,
        height=args.size[0] if args.size else None, width=args.size[1] if args.size else None,
        precision=args.precision, progress=not args.no_progress,
    )
    print(format_result(evaluate(cfg)))
    return 0
