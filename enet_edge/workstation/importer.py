"""``enet-edge import kwotsin CKPT --out W.npz``: a kwotsin/TensorFlow-ENet checkpoint as enet-edge weights.

Writes our weights file (:mod:`enet_edge.model.weights`, flavour ``kwotsin``) and its card, a JSON
beside it (``W.json``) with the same facts as the meta inside the ``.npz``: architecture, input
convention, classes, and how every checkpoint variable was accounted for. ``enet-edge export
--weights W.npz`` then exports it like the shipped weights. See docs/import.md.

Importing this module imports no TensorFlow (the command imports it when it runs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

from enet_edge.errors import ConfigError

INPUT_CONVENTION = {
    "color": "RGB",
    "scale": 1.0 / 255.0,
    "range": [0.0, 1.0],
    "note": "kwotsin trained on RGB scaled to [0, 1] (tf.image.convert_image_dtype); the exported graph "
            "reverses the BGR frame (uint8 BGR for the IR, float32 BGR 0..255 for .pb/.onnx) and scales by 1/255",
}


def add_cli(sub) -> None:
    p = sub.add_parser("import", help="turn another trained ENet (kwotsin/TensorFlow-ENet checkpoint) into weights")
    kinds = p.add_subparsers(dest="source", required=True)
    k = kinds.add_parser("kwotsin", help="a TF1 checkpoint of kwotsin/TensorFlow-ENet's enet.py")
    k.add_argument("checkpoint", help="checkpoint prefix (log/model.ckpt-13800), its .index, or its directory")
    k.add_argument("--out", required=True, help="weights file to write (.npz); its card goes beside it (.json)")
    k.add_argument("--classes", help="class file (JSON or TOML: names, colours, ignore_label; docs/import.md); "
                                     "default: CamVid's for 12 classes, else class_0.. with a generated palette")
    k.add_argument("--skip-connections", action="store_true",
                   help="the model was trained with skip_connections=True (no variables show it)")
    k.add_argument("--num-initial-blocks", type=int, help="check: kwotsin's num_initial_blocks (read from the checkpoint)")
    k.add_argument("--stage-two-repeat", type=int, help="check: kwotsin's stage_two_repeat (read from the checkpoint)")
    k.set_defaults(func=run_import_kwotsin)


def run_import_kwotsin(args) -> int:
    card = import_kwotsin(args.checkpoint, Path(args.out), classes_file=args.classes,
                          skip_connections=args.skip_connections, num_initial_blocks=args.num_initial_blocks,
                          stage_two_repeat=args.stage_two_repeat, log=lambda m: print(m, file=sys.stderr))
    src = card["source"]
    print(f"imported {src['checkpoint']}: {src['model_variables_placed']} variables, {src['parameters']:,} values "
          f"-> {args.out} (flavour kwotsin, {card['model']['num_classes']} classes, "
          f"stage_two_repeat {card['model']['stage_two_repeat']}, skip_connections "
          f"{card['model']['skip_connections']})")
    for reason, count in src["skipped"].items():
        print(f"  skipped {count}: {reason}")
    print(f"  card: {Path(args.out).with_suffix('.json')}")
    return 0


def import_kwotsin(checkpoint, out: Path, classes_file=None, skip_connections: bool = False,
                   num_initial_blocks: Optional[int] = None, stage_two_repeat: Optional[int] = None,
                   log=print) -> dict:
    """Convert, verify (the weights build into the network) and write ``out`` and its card; returns the card."""
    from enet_edge import class_sets
    from enet_edge.fileio import atomic_write_text, sha256_file
    from enet_edge.model.kwotsin import convert, read_checkpoint
    from enet_edge.model.weights import write_weights

    out = Path(out)
    if out.suffix != ".npz":
        raise ConfigError(f"--out {out} must end in .npz (an enet-edge weights file)")
    variables = read_checkpoint(checkpoint)
    conversion = convert(variables, skip_connections=skip_connections, num_initial_blocks=num_initial_blocks,
                         stage_two_repeat=stage_two_repeat)
    for warning in conversion.warnings:
        log(f"WARNING: {warning}")
    classes = class_sets.default_for(conversion.config.num_classes, classes_file)
    _verify_builds(conversion)
    arch = conversion.architecture
    meta = {
        "architecture": "kwotsin",
        "source": {
            "format": "kwotsin/TensorFlow-ENet TF1 checkpoint (enet.py, slim)",
            "checkpoint": str(checkpoint),
            "variables": len(variables),
            "model_variables_placed": conversion.placed,
            "parameters": conversion.parameters,
            "scope": arch.scope,
            "num_initial_blocks": arch.num_initial_blocks,
            "stage_two_repeat": arch.stage_two_repeat,
            "skipped": {reason: len(names) for reason, names in conversion.skipped.items()},
        },
        "input": INPUT_CONVENTION,
        "classes": classes.to_dict(),
        "warnings": conversion.warnings,
    }
    write_weights(out, conversion.weights, conversion.config, meta)
    card = {"weights": out.name, "sha256": sha256_file(out), **meta, "model": conversion.config.to_dict(),
            "skipped_variables": conversion.skipped}
    atomic_write_text(out.with_suffix(".json"), json.dumps(card, indent=2) + "\n")
    return card


def _verify_builds(conversion) -> None:
    """Build the kwotsin-flavour network at a small size and assign the weights (every shape checked)."""
    from enet_edge.model.enet import build_enet
    from enet_edge.model.kwotsin import check_shapes, variable_map
    from enet_edge.model.weights import set_weights

    config = conversion.config.replace(height=32, width=32, batch=1)
    model = build_enet(config)
    mapping = variable_map(conversion.config, conversion.architecture.num_initial_blocks, conversion.architecture.scope)
    check_shapes(conversion.weights, {v.path: tuple(v.shape) for v in model.weights}, mapping)
    set_weights(model, conversion.weights, "the imported checkpoint")
