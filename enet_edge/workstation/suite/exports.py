"""The exports ``make bench`` measures, made or reused under ``build/bench/<H>x<W>/<export name>``.

Each export runs in a process of its own (``python -m enet_edge.workstation.suite.exports``): freezing, converting
and INT8 calibration at 720x960 hold many GB that TensorFlow and NNCF do not give back, and the suite process,
which keeps its measurement sessions, ran out of memory on a 23 GB machine when it exported in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from enet_edge.errors import ArtifactError, ConfigError
from enet_edge.export.myriad.compile_table import code_digest
from enet_edge.resources import DEFAULT_WEIGHTS
from enet_edge.runtime.isa import environ_for
from enet_edge.workstation.suite.config import SCALING_INT8, SuiteConfig, Variant

KEY_FILE = "suite_key.json"
"""Beside an export's manifest: the key it was made with (weights, size, target, output, the code's digest)."""


def weights_path(config: SuiteConfig) -> Path:
    path = Path(config.weights or DEFAULT_WEIGHTS)
    if not path.is_file():
        raise ConfigError(f"weights {path} not found; train (make train) or pass --weights")
    return path


def weights_meta(config: SuiteConfig) -> Dict[str, Any]:
    """The free-form metadata (epoch, val mIoU, ``val_trained_on``, ...) of the suite's weights."""
    from enet_edge.model.weights import read_weights

    return read_weights(weights_path(config), "--weights")[2]


def bench_target(target: str, gated: bool, class_map: Optional[str] = None):
    """The export target ``target`` (with ``class_map``); INT8 targets get :data:`SCALING_INT8` when not ``gated``."""
    from enet_edge.export.targets import load_target

    spec = load_target(target).with_class_map(class_map)
    if gated or spec.quantization is None:
        return spec
    return spec.with_quantization(ir_argmax_agreement=0.5, **SCALING_INT8)


def quantization_matches(manifest: Dict[str, Any], spec) -> bool:
    """Whether an export's manifest was quantized as ``spec`` (a ``TargetSpec``) says: the same NNCF preset,
    bias correction, ignored scope and calibration (an FP32 spec matches a manifest without quantization)."""
    wanted, done = spec.quantization, manifest.get("quantization")
    if wanted is None or done is None:
        return wanted is None and done is None
    return (done.get("preset") == wanted.preset
            and done.get("fast_bias_correction") == wanted.fast_bias_correction
            and tuple(done.get("ignored_patterns", ())) == wanted.ignored_patterns
            and done.get("calibration") == {"split": wanted.calibration_split, "frames": wanted.calibration_frames})


def ensure_export(variant: Variant, size: Tuple[int, int], config: SuiteConfig, log: Callable[[str], None],
                  gated: bool = True) -> Path:
    """``build/bench/<H>x<W>/<export name>``, exported now (in a process of its own) unless it holds an export of
    the same weights, size, realization, quantization, output and code."""
    from enet_edge.fileio import sha256_file

    weights = weights_path(config)
    target = variant.export_name
    out = Path(config.build_dir) / f"{size[0]}x{size[1]}" / target
    manifest_path = out / "manifest.json"
    spec = bench_target(variant.target, gated, variant.class_map)
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        outputs = manifest.get("artifacts", {}).get("openvino_ir", {}).get("outputs") or [{}]
        key_path = out / KEY_FILE  # made by an earlier suite: its code must be this one (a directory without a key,
        same = ((not key_path.is_file() or json.loads(key_path.read_text()) == _key(variant, size, weights, gated))
                and manifest.get("weights", {}).get("sha256") == sha256_file(weights)  # such as a symlinked export,
                # is judged by its manifest alone)
                and (manifest["model"]["height"], manifest["model"]["width"]) == tuple(size)
                and manifest.get("realization") == spec.realization.to_dict()
                and quantization_matches(manifest, spec)
                and (outputs[0].get("name") == "class_map") == bool(variant.class_map)
                and outputs[0].get("layout") in ("NCHW", "NHW"))  # exports before the NCHW logits are stale
        if same:
            return out
    log(f"exporting {target} at {size[0]}x{size[1]} to {out}")
    command = [sys.executable, "-m", __name__, variant.target, "gated" if gated else "scaled", variant.class_map or "-",
               str(size[0]), str(size[1]), str(weights), str(config.data_dir or "-"), str(out)]
    # the machine's own ISA, even when the suite runs as a lower CPU kind: calibration and checks are the export's
    returncode, last = run_logged(command, environ_for(None, os.environ), log, "  ")
    if returncode != 0:
        raise ArtifactError(f"exporting {target} at {size[0]}x{size[1]} failed: {last}")
    (out / KEY_FILE).write_text(json.dumps(_key(variant, size, weights, gated), indent=2))
    return out


def run_logged(command: List[str], env: Dict[str, str], log: Callable[[str], None], prefix: str) -> Tuple[int, str]:
    """Run ``command`` with ``env``, each line of its output (stdout and stderr) logged after ``prefix`` as it comes;
    returns its exit code and its last line (``no output`` when it printed none)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    last = "no output"
    for line in process.stdout:
        last = line.rstrip() or last
        log(prefix + line.rstrip())
    return process.wait(), last


def _key(variant: Variant, size: Tuple[int, int], weights: Path, gated: bool) -> Dict[str, Any]:
    return {"target": variant.target, "class_map": variant.class_map, "size": list(size), "gated": gated,
            "weights": str(weights), "code": code_digest()}


def main(argv) -> int:
    """``TARGET gated|scaled CLASS_MAP|- H W WEIGHTS DATA_DIR|- OUT``: one export (the process ensure_export starts)."""
    from enet_edge.command import run_command
    from enet_edge.export.pipeline import ExportRequest, export

    target, gated, class_map, height, width, weights, data_dir, out = argv

    def run() -> int:
        spec = bench_target(target, gated == "gated", None if class_map == "-" else class_map)
        request = ExportRequest(target=spec, out_dir=Path(out), weights=Path(weights), height=int(height),
                                width=int(width), data_dir=None if data_dir == "-" else data_dir)
        export(request, log=lambda m: print(m, flush=True))
        return 0

    return run_command("make bench export", run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


