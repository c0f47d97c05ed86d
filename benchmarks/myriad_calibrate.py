"""Calibrate the MYRIAD X time model (enet_edge/export/myriad/timemodel.py) on the fit set's compiled dumps.

    python benchmarks/myriad_calibrate.py DUMPS_DIR   # DUMPS_DIR/<omz-name>/graph.dot, made by
                                                      # benchmarks/myriad_fitset.py (U8 input, default output)
    python benchmarks/myriad_calibrate.py --from-csv  # refit from the committed benchmarks/myriad_fit_features.csv

Reads benchmarks/myriad_fitset.toml (the networks, Intel's measured NCS2 FP16 throughput FPS and sources, the
QuTiBench synchronous ResNet-50), writes one row of aggregated features per network into
benchmarks/myriad_fit_features.csv (not with --from-csv), fits the parameters (non-negative least squares on the
relative error of the throughput frame time), writes enet_edge/data/myriad_time_model.toml and prints the
leave-one-out table. Rows with ``partial = true`` (the model leaves out part of the OMZ network) are kept in the CSV
with ``in_fit = 0``: not fitted, shown apart. Segmentation networks are never in the fit set.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import myriad_loo as loo  # noqa: E402
from enet_edge.export.myriad import timemodel as tm  # noqa: E402
from enet_edge.export.myriad.compiler import parse_dump  # noqa: E402
from enet_edge.resources import read_toml  # noqa: E402

FITSET_TOML = REPO / "benchmarks" / "myriad_fitset.toml"
COLUMNS = ("network", "input", "fps_fp16", "in_fit", "nce_gmac", "shave_gmac", "shave_gb", "shave_act_gb", "dma_gb",
           "stages", "unmodelled", "input_bytes", "output_bytes", "note")

# The parameters the fit set cannot tell, with their sources / assumptions.
SHAVE_GMACS_PRIOR = 10.0
"""GMAC/s of SHAVE convolutions (none in the fit set): Myriad X SHAVE = 128-bit VLIW vector unit, 8 FP16 MACs a cycle
at 700 MHz = 5.6 GMAC/s peak each; the compiled graphs use 7 SHAVEs (numSHAVEs) = 39 GMAC/s peak; assumed ~25 %
efficient for vpu's software convolution kernels. An assumption, not a fit."""
USB3_MBS = 350.0
"""MB/s: USB 3.0 SuperSpeed 5 Gb/s, 8b/10b coded = 500 MB/s raw; ~70 % of it for bulk transfers. An assumption."""
USB2_MBS = 35.0
"""MB/s: USB 2.0 High-Speed 480 Mb/s = 60 MB/s raw; ~35 MB/s is typical of bulk transfers. An assumption."""
SYNC_COMPUTE_MS, SYNC_SYSTEM_MS = 56.32, 59.04
"""QuTiBench's synchronous ResNet-50 on NCS2 FP16 (compute latency, system latency; myriad_fitset.toml)."""
QUTIBENCH_IO_BYTES = 224 * 224 * 3 * 4 + 1000 * 4
"""ResNet-50's request as QuTiBench is assumed to send it: FP32 input (the 2019-2020 Inference Engine default of a
network's input), FP32 output of 1000 classes."""


def prior() -> tm.TimeModel:
    """The parameters before the fit: the fitted ones as placeholders, the others from their sources."""
    request_ms = (SYNC_SYSTEM_MS - SYNC_COMPUTE_MS) - tm.usb_ms(QUTIBENCH_IO_BYTES, USB3_MBS)
    return tm.TimeModel(nce_gmacs=100.0, shave_gmacs=SHAVE_GMACS_PRIOR, shave_gbs=10.0, shave_act_gbs=1.0,
                        dma_gbs=10.0, stage_us=10.0, throughput_parallelism=1.0, usb3_mbs=USB3_MBS,
                        usb2_mbs=USB2_MBS, usb_request_ms=round(request_ms, 3))


def extract(dumps: Path) -> list:
    """One CSV row per throughput network of the fit set whose dump is in ``dumps``."""
    rows = []
    for net in read_toml(FITSET_TOML)["network"]:
        if net["kind"] != "throughput":
            continue
        dump = dumps / net["omz"] / "graph.dot"
        if not dump.is_file():
            print(f"  {net['omz']}: no {dump}, left out", file=sys.stderr)
            continue
        f = tm.features(parse_dump(dump.read_text()))
        note = "partial model (see myriad_fitset.toml)" if net.get("partial") else ""
        rows.append({"network": net["omz"], "input": net["input"], "fps_fp16": net["fps_fp16"],
                     "in_fit": 0 if net.get("partial") else 1, **{k: f[k] for k in COLUMNS if k in f},
                     "note": note})
    return rows


def write_csv(rows: list, path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]) for k in COLUMNS})


def _toml_value(v) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v) if isinstance(v, (int, float)) else str(v)


def write_toml(params: tm.TimeModel, names: list, loo_median: float, worst: float, path: Path, date: str) -> None:
    lines = ["# The MYRIAD X time model's parameters (enet_edge/export/myriad/timemodel.py).",
             "# Written by benchmarks/myriad_calibrate.py;",
             "# refit with `python benchmarks/myriad_calibrate.py --from-csv`.",
             f'version = "myriadx-tm-{date}"', "", "[parameters]"]
    for key, value in params.parameters().items():
        rounded = float(f"{value:.5g}") if math.isfinite(value) else value
        lines.append(f"{key} = {_toml_value(rounded)}  # {tm.PARAMETER_UNITS[key]}")
    lines += ["", "[fit]", f'date = "{date}"',
              'method = "non-negative least squares on the relative error of the throughput frame time (1000/FPS)"',
              f"fitted = {_toml_value(list(tm.FITTED))}",
              f"networks = {_toml_value(names)}",
              f"loo_median_error = {loo_median:.4f}",
              f"loo_worst_ratio = {worst:.3f}",
              f"sync_compute_ms = {SYNC_COMPUTE_MS}",
              f"sync_anchor = {_toml_value(list(loo.SYNC_ANCHOR_ROWS))}",
              "", "[sources]",
              'throughput_fps = "openvinotoolkit/openvino@c393640e80cbd8afa542ac59ff6eb92c6041cdea:'
              'docs/_static/csv/benchmark-data.csv (OV-2022.1, NCS2, Throughput-FP16);'
              ' rows: benchmarks/myriad_fitset.toml"',
              'sync = "QuTiBench (RCL-lab/QutibenchWeb): ResNet-50 NCS2 FP16 batch 1,'
              ' 56.32 ms compute, 59.04 ms system:'
              ' sets throughput_parallelism and usb_request_ms (FP32 input assumed)"',
              'dumps = "OpenVINO 2021.4.2 MYRIAD plugin, VPU_MYRIAD_2480, U8 input, default output precision"',
              f'shave_gmacs = "assumption: 7 SHAVEs x 5.6 GMAC/s peak x ~25 % (no SHAVE convolution in the fit set)"',
              'usb3_mbs = "assumption: USB 3.0 5 Gb/s, 8b/10b = 500 MB/s raw, ~70 % for bulk transfers"',
              'usb2_mbs = "assumption: USB 2.0 480 Mb/s = 60 MB/s raw, ~35 MB/s typical bulk"',
              'throughput_parallelism = "QuTiBench ResNet-50 compute latency over the fitted throughput frame time of'
              ' resnet-50-tf and resnet-50-pytorch (geometric mean)"',
              'usb_request_ms = "QuTiBench ResNet-50 system minus compute latency, less its request\'s bytes (FP32'
              ' input assumed) at usb3_mbs"']
    path.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dumps", nargs="?", type=Path, help="folder of <omz-name>/graph.dot (benchmarks/myriad_fitset.py)")
    ap.add_argument("--from-csv", action="store_true", help="refit from the committed features CSV alone")
    ap.add_argument("--csv", type=Path, default=loo.FEATURES_CSV)
    ap.add_argument("--toml", type=Path, default=loo.TIME_MODEL_TOML)
    ap.add_argument("--date", default=datetime.date.today().isoformat())
    args = ap.parse_args(argv)
    if args.from_csv == (args.dumps is not None):
        ap.error("give DUMPS_DIR or --from-csv (one of them)")
    if not args.from_csv:
        write_csv(extract(args.dumps), args.csv)
        print(f"wrote {args.csv}")
    rows = loo.read_features(args.csv)
    kept, fps = loo.fit_rows(rows)
    base = prior()
    params = tm.fit(kept, fps, base, loo.anchor_of(kept, SYNC_COMPUTE_MS))
    table = loo.loo_rows(rows, params, SYNC_COMPUTE_MS)
    fit = [r for r in table if r["in_fit"]]
    median = tm.median_error([r["predicted"] for r in fit], [r["measured"] for r in fit])
    worst = max(max(r["predicted"] / r["measured"], r["measured"] / r["predicted"]) for r in fit)
    write_toml(params, [r["network"] for r in kept], median, worst, args.toml, args.date)
    print(f"wrote {args.toml}")
    for key, value in params.parameters().items():
        print(f"  {key:24s} {value:10.4g}  {tm.PARAMETER_UNITS[key]}")
    print(f"\n{'network':28s} {'predicted':>9s} {'measured':>9s} {'error':>7s}")
    for r in table:
        tag = "" if r["in_fit"] else "  (not in the fit)"
        error = r["predicted"] / r["measured"] - 1
        print(f"{r['network']:28s} {r['predicted']:9.2f} {r['measured']:9.2f} {error:+7.0%}{tag}")
    print(f"\nleave-one-out median |pred/meas - 1| = {median:.1%}, worst {worst:.2f}x over {len(fit)} networks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
