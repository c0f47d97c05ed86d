"""``enet-edge export`` and ``enet-edge check``: argparse to :func:`~enet_edge.export.pipeline.export` and the gates.

Importing this module imports no TensorFlow: ``enet-edge check`` runs on a device install, and
``enet-edge export`` imports the pipeline only when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path


def add_cli(sub) -> None:
    """Register ``export`` and ``check``, in that order."""
    add_export_cli(sub)
    add_check_cli(sub)


def add_export_cli(sub) -> None:
    p = sub.add_parser("export", help="freeze -> ONNX -> OpenVINO IR for a target, gated and parity-checked")
    p.add_argument("--target", default="ncs2", help="a name from export/ (ncs2, cpu, ncs1, ...) or a .toml path")
    p.add_argument("--weights", help="weights .npz (default: weights/enet_camvid.npz, else seeded random)")
    p.add_argument("--height", type=int, help="static input height (default: the target's, 360)")
    p.add_argument("--width", type=int, help="static input width (default: the target's, 480)")
    p.add_argument("--out", help="output directory (default: build/<target>)")
    p.add_argument("--data-dir", help="CamVid root for the parity frames")
    p.add_argument("--seed", type=int, default=0, help="seed for random weights/parity inputs")
    p.set_defaults(func=run_export)


def run_export(args) -> int:
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


def add_check_cli(sub) -> None:
    p = sub.add_parser("check", help="check a .pb/.onnx/.xml against a target's op table (all violations)")
    p.add_argument("path", help="a .pb, .onnx or .xml file, or an export directory")
    p.add_argument("--target", default="ncs2")
    p.set_defaults(func=run_check)


def run_check(args) -> int:
    # TensorFlow-free: only a .pb (and the "realization" ruleset) needs it, and only when read
    from enet_edge.export.gates import check_graph, read_graph, ruleset_for, unreadable_here
    from enet_edge.errors import ArtifactError, ConfigError
    from enet_edge.export.targets import ARTIFACT_FILES, load_target
    from enet_edge.runtime.backends import export_kind

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
    failed = 0
    for p in paths:
        kind = export_kind(p)
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
