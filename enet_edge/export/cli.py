"""``enet-edge export`` and ``enet-edge check``: argparse to :func:`~enet_edge.export.pipeline.export` and the gates.

Importing this module imports no TensorFlow: ``enet-edge check`` runs on a device install, and
``enet-edge export`` imports the pipeline only when it runs.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import List, Optional, Tuple

from enet_edge.errors import ArtifactError, CheckFailed, ConfigError
from enet_edge.export.checks.gates import check_graph, read_graph, ruleset_for, unreadable_here  # .pb: TensorFlow when read
from enet_edge.export.myriad.compiler import summary_line
from enet_edge.export.myriad.runner_io import compile_for_runner, model_io
from enet_edge.export.report import complexity_text, predicted_text
from enet_edge.fileio import atomic_write_text, check_output_file, json_safe
from enet_edge.export.targets import ARTIFACT_FILES, available_targets, load_target
from enet_edge.runtime.backends import OPENVINO_BACKEND, backend, export_kind, kind_backend
from enet_edge.runtime.manifest import MANIFEST, compiled_options, read_manifest, verify_artifact


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
    p.add_argument("--class-map", choices=("int32", "uint8", "none"),
                   help="the IR ends in the arg-max and outputs (1,H,W) class ids of this type instead of the logits "
                        "(default: the target's [output] class_map; none: logits)")
    p.set_defaults(func=run_export)


def run_export(args) -> int:
    from enet_edge.export.pipeline import ExportRequest, export  # TensorFlow: only when an export runs
    target = load_target(args.target)
    if args.class_map:
        target = target.with_class_map(None if args.class_map == "none" else args.class_map)
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
    if manifest["parity"].get("note"):
        lines.append(f"  parity inputs: {manifest['parity']['note']}")
    for kind, art in manifest["artifacts"].items():
        parity = manifest["parity"]["results"][kind]
        diff = "class map" if parity["max_abs_rel"] is None else f"max|diff|/max|ref| {parity['max_abs_rel']:.1e}"
        lines.append(f"  {art['file']:<16} {art['bytes'] / 1e6:6.2f} MB  argmax agreement "
                     f"{100 * parity['argmax_agreement']:.3f}%  {diff}  ({ran_on[kind]['inference_precision']})")
    rows = (("fp16_arithmetic", "FP16 arithmetic", "emulated"), ("openvino_ir_f16", "enet.xml in f16", "OpenVINO"))
    for kind, title, how in rows:
        result = manifest["parity"]["results"].get(kind)
        if result:
            diff = "class map" if result["max_abs_rel"] is None else f"max|diff|/max|ref| {result['max_abs_rel']:.1e}"
            lines.append(f"  {title:<16} {how:>9}  argmax agreement {100 * result['argmax_agreement']:.3f}%  {diff}")
        elif "skipped" in ran_on.get(kind, {}):
            lines.append(f"  {title:<16} not run: {ran_on[kind]['skipped']}")
    for kind, check in manifest["checks"].items():
        verdict = "ok" if check["ok"] else f"{len(check['violations'])} VIOLATIONS"
        lines.append(f"  check {kind:<12} {check['ruleset']:<24} {verdict}")
    if manifest.get("myriad_compiler"):
        lines.append(f"  MYRIAD X compiler  {summary_line(manifest['myriad_compiler'])}")
        lines.append(f"  MYRIAD X time      {predicted_text(manifest['myriad_compiler'])}")
    if not manifest["supported"]:
        lines.append(f"  target {manifest['target']} CANNOT run this model: see {out_dir}/report.md")
    lines.append("  " + complexity_text(manifest.get("complexity")))
    lines.append(f"  report: {out_dir}/report.md")
    return "\n".join(lines)


def add_check_cli(sub) -> None:
    p = sub.add_parser("check", help="check a .pb/.onnx/.xml against a target's op table (all violations)")
    p.add_argument("path", help="a .pb, .onnx or .xml file, or an export directory")
    p.add_argument("--target", help="a target name or .toml (default: the target named in the export's "
                                    "manifest.json, for an export directory or a file beside one; else ncs2)")
    p.add_argument("--compile", choices=("auto", "yes", "no"), default="auto",
                   help="also compile each .onnx/.xml with the MYRIAD X compiler (OpenVINO 2021.4.2, no stick needed; "
                        "auto: where the target has a [myriad_compiler] table, or where --json is given) and print "
                        "its prediction of the stick's time")
    p.add_argument("--json", metavar="PATH", dest="json_path",
                   help="write the MYRIAD X compiler's record of each compiled file (stages, traffic, predicted time) "
                        "as JSON: {\"file\": ..., \"myriad_compiler\": {...}} for one file, a list for several")
    p.set_defaults(func=run_check)


DEFAULT_CHECK_TARGET = "ncs2"


def _compile_check(paths, target, manifest: Optional[dict]) -> Tuple[List[str], List[dict]]:
    """Compile every .onnx/.xml of ``paths`` as the export compiles it (:func:`compile_for_runner`: ``target``'s
    device and options, the I/O the runner asks); print its verdict and predicted time; the refusals and
    ``{"file", "myriad_compiler"}`` of each compiled file (what ``--json`` writes).

    A file ``manifest`` lists is compiled with the export's own output (its ``outputs[0].dtype``: logits or a class
    map) and a u8 image input; any other file with what it declares (u8 where its one input is an image, else left;
    the output the device writes for its output type)."""
    listed = {e.get("file"): e for e in ((manifest or {}).get("artifacts") or {}).values() if isinstance(e, dict)}
    refused, records = [], []
    for p in paths:
        if not backend(OPENVINO_BACKEND).reads_file(p):  # what OpenVINO reads, the MYRIAD X compiler compiles
            continue
        entry = listed.get(p.name)
        if entry is not None:
            output_type, image_input = ((entry.get("outputs") or [{}])[0] or {}).get("dtype"), True
        else:
            declared = model_io(p)
            output_type, image_input = declared.output or "f32", declared.image_input
        record = compile_for_runner(p, target, lambda m: print(m, file=sys.stderr), output_type=output_type,
                                    image_input=image_input)
        print(f"{p}: MYRIAD X compiler {summary_line(record)}")
        if record["verdict"] == "compiled":
            print(f"{p}: MYRIAD X time model {predicted_text(record)}")
        records.append({"file": str(p), "myriad_compiler": record})
        if record["verdict"] == "refused":
            refused.append(f"{p.name}: the MYRIAD X compiler refused it"
                           + (f" at layer {record['layer']!r}" if record.get("layer") else ""))
    return refused, records


def write_check_json(path, records: List[dict]) -> Path:
    """``--json``: one file's ``{"file", "myriad_compiler"}``, or the list of several, written atomically."""
    document = json_safe(records[0] if len(records) == 1 else records)  # strict JSON: NaN/inf as null
    return atomic_write_text(path, json.dumps(document, indent=2, allow_nan=False) + "\n", "--json")


def _check_target(args, manifest: Optional[dict], manifest_path: Path):
    """(target, why): ``--target``, else the manifest's target, else :data:`DEFAULT_CHECK_TARGET`."""
    if args.target is not None:
        return load_target(args.target), "--target"
    if manifest is None:
        return load_target(DEFAULT_CHECK_TARGET), "no manifest.json: the default target"
    name = manifest.get("target")
    if not isinstance(name, str) or not name:
        raise ArtifactError(f"{manifest_path} names no target; pass --target")
    try:
        return load_target(name), f"the target of {manifest_path}"
    except ConfigError:
        raise ConfigError(f"{manifest_path} names target {name!r}, which is not one of "
                          f"{', '.join(available_targets())}; pass --target") from None


def run_check(args) -> int:
    path = Path(args.path)
    json_path = getattr(args, "json_path", None)
    if json_path:
        if args.compile == "no":
            raise ConfigError("--json writes the MYRIAD X compiler's records; it cannot go with --compile no")
        check_output_file(json_path, "--json")  # now, not after the compiles
    if not path.exists():
        raise ArtifactError(f"{path} does not exist; give a .pb, .onnx or .xml file or an export directory")
    folder = path if path.is_dir() else path.parent
    manifest = read_manifest(folder) if (folder / MANIFEST).is_file() else None
    target, why = _check_target(args, manifest, folder / MANIFEST)
    compiled_with = compiled_options(manifest, str(folder / MANIFEST))
    if args.target is None and compiled_with is not None and target.myriad_compiler is not None:
        # the export's own compile, again: the options it was compiled (and predicted) with, whatever the target says now
        target = dataclasses.replace(target, myriad_compiler=compiled_with)  # checked as a target's are
    print(f"target {target.name} ({why})")
    paths = [path / ARTIFACT_FILES[k] for k in target.checks if (path / ARTIFACT_FILES[k]).is_file()] if path.is_dir() else [path]
    if path.is_dir() and manifest is not None:  # what the manifest lists must be there, unchanged
        for kind, entry in manifest["artifacts"].items():
            if kind in target.checks and isinstance(entry, dict):
                verify_artifact(folder, entry)
                paths = paths if (folder / entry["file"]) in paths else paths + [folder / entry["file"]]
    if not paths:
        raise ConfigError(f"{path} holds none of the artifacts target {target.name} checks "
                          f"({', '.join(ARTIFACT_FILES[k] for k in target.checks)})")
    if path.is_dir():  # an export directory: check what this install can read (a device install has no TensorFlow)
        skipped = {p: why for p in paths if (why := unreadable_here(p))}
        for p, why in skipped.items():
            print(f"{p}: not checked ({why})")
        paths = [p for p in paths if p not in skipped]
        if not paths:
            raise ArtifactError(f"this install can read none of the artifacts in {path}: {'; '.join(skipped.values())}")
    elif manifest is not None:  # one file beside a manifest: its sha256, where the manifest lists it
        entry = next((e for e in manifest["artifacts"].values() if isinstance(e, dict) and e.get("file") == path.name),
                     None)
        if entry is not None:
            verify_artifact(folder, entry)
    failed = []
    for p in paths:
        kind = export_kind(p)
        if kind is not None and kind not in target.checks:
            raise ConfigError(f"target {target.name} has no {kind} check; it checks {', '.join(target.checks)}")
        graph = read_graph(p)
        kind_backend(kind).check_file(p)  # its sidecar (.bin beside an .xml)
        flavour = ((manifest or {}).get("model") or {}).get("flavour", "paper")
        report = check_graph(graph, ruleset_for(kind, target.checks[kind], target, flavour))
        if report.ok:
            print(f"{p}: ok against {report.ruleset} ({sum(report.inventory.values())} nodes)")
        else:
            failed.append(f"{p.name}: {len(report.violations)} violation(s) of {report.ruleset}")
            print(f"{p}: {len(report.violations)} violation(s) against {report.ruleset}")
            print(report.table())
    if {"auto": target.myriad_compiler is not None or bool(json_path), "yes": True, "no": False}[args.compile]:
        # an export directory: its ONNX stands for its IR v11 (docs/ncs2.md)
        refused, records = _compile_check([p for p in paths if not path.is_dir() or export_kind(p) == "onnx"],
                                          target, manifest)
        failed += refused
        if json_path:
            if not records:
                raise ConfigError(f"--json: nothing in {path} is a file the MYRIAD X compiler reads (.onnx, .xml)")
            print(f"wrote {write_check_json(json_path, records)}")
    if failed:
        raise CheckFailed(f"target {target.name} does not accept {len(failed)} of {len(paths)} artifact(s): "
                          f"{'; '.join(failed)} (tables above)")
    return 0
