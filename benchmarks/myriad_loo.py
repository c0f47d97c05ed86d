"""The MYRIAD X time model's leave-one-out table, from the committed fit features and the stored parameters.

``render_loo_table()`` returns the markdown table that docs/ncs2.md includes as ``<!-- generated: myriad-loo -->``:
one row per fit-set network (predicted throughput FPS by the parameters fitted on the other networks, Intel's
measured FPS, the error), then the rows left out of the fit (a partial model) predicted by the stored parameters.
Pure numpy; reads ``benchmarks/myriad_fit_features.csv`` and ``enet_edge/data/myriad_time_model.toml``.

    python benchmarks/myriad_loo.py            # print the table
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from enet_edge.export.myriad import timemodel as tm  # noqa: E402

FEATURES_CSV = REPO / "benchmarks" / "myriad_fit_features.csv"
TIME_MODEL_TOML = REPO / "enet_edge" / "data" / tm.TIME_MODEL_FILE
SYNC_ANCHOR_ROWS = ("resnet-50-tf", "resnet-50-pytorch")
"""The fit-set rows that stand for QuTiBench's synchronous ResNet-50 (its conversion is not recorded)."""
NUMERIC = ("fps_fp16", "nce_gmac", "shave_gmac", "shave_gb", "shave_act_gb", "dma_gb", "stages", "unmodelled",
           "input_bytes", "output_bytes")


def read_features(path: Path = FEATURES_CSV) -> List[Dict[str, object]]:
    """The CSV's rows: strings for ``network``, ``input``, ``note``; ``in_fit`` as bool; numbers otherwise."""
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            parsed: Dict[str, object] = dict(row)
            for key in NUMERIC:
                parsed[key] = float(row[key])
            parsed["in_fit"] = row["in_fit"].strip().lower() in ("1", "true", "yes")
            rows.append(parsed)
    return rows


def fit_rows(rows: List[Dict[str, object]]) -> Tuple[List[Dict[str, object]], List[float]]:
    kept = [r for r in rows if r["in_fit"]]
    return kept, [float(r["fps_fp16"]) for r in kept]


def anchor_of(kept: List[Dict[str, object]], sync_ms: float) -> Optional[Tuple[List[int], float]]:
    names = [r["network"] for r in kept]
    indices = [names.index(n) for n in SYNC_ANCHOR_ROWS if n in names]
    return (indices, sync_ms) if indices else None


def loo_rows(rows: List[Dict[str, object]], params: tm.TimeModel, sync_ms: float) -> List[Dict[str, object]]:
    """Each fit row's leave-one-out predicted FPS (``params``: the prior of each refit: its parameters that are not
    fitted), and each row out of the fit predicted by ``params`` (the stored, fitted ones)."""
    kept, fps = fit_rows(rows)
    loo = tm.leave_one_out(kept, fps, params, anchor_of(kept, sync_ms))
    out = [{"network": r["network"], "input": r["input"], "predicted": p, "measured": m, "in_fit": True,
            "note": r.get("note", "")} for r, p, m in zip(kept, loo, fps)]
    for r in rows:
        if not r["in_fit"]:
            out.append({"network": r["network"], "input": r["input"], "in_fit": False, "note": r.get("note", ""),
                        "predicted": tm.throughput_fps_from_features(r, params), "measured": float(r["fps_fp16"])})
    return out


def render_loo_table(csv_path: Path = FEATURES_CSV, toml_path: Path = TIME_MODEL_TOML) -> str:
    """The leave-one-out table as markdown (see the module docstring)."""
    from enet_edge.resources import read_toml

    params = tm.load_time_model(toml_path)
    sync_ms = float(read_toml(toml_path)["fit"]["sync_compute_ms"])
    table = loo_rows(read_features(csv_path), params, sync_ms)
    fit = [r for r in table if r["in_fit"]]
    lines = ["| network | input | predicted FPS | measured FPS | error |", "|---|---|---:|---:|---:|"]
    for r in table:
        err = r["predicted"] / r["measured"] - 1
        name = r["network"] if r["in_fit"] else f"{r['network']} (not in the fit: {r['note']})"
        lines.append(f"| {name} | {r['input']} | {r['predicted']:.2f} | {r['measured']:.2f} | {err:+.0%} |")
    median = tm.median_error([r["predicted"] for r in fit], [r["measured"] for r in fit])
    worst = max(fit, key=lambda r: max(r["predicted"] / r["measured"], r["measured"] / r["predicted"]))
    ratio = max(worst["predicted"] / worst["measured"], worst["measured"] / worst["predicted"])
    lines.append("")
    lines.append(f"Leave-one-out over {len(fit)} networks: median |predicted / measured - 1| = {median:.1%}; "
                 f"worst {worst['network']} ({ratio:.2f}x).")
    return "\n".join(lines) + "\n"


def render_parameters(toml_path: Path = TIME_MODEL_TOML) -> str:
    """The stored parameters as a markdown table: name, value, unit and meaning, fitted or from a source."""
    from enet_edge.resources import read_toml

    table = read_toml(toml_path)
    fitted = set(table["fit"]["fitted"])
    sources = table.get("sources", {})
    lines = [f"`enet_edge/data/{tm.TIME_MODEL_FILE}` ({table['version']}, fitted {table['fit']['date']}):", "",
             "| parameter | value | unit: meaning | from |", "|---|---:|---|---|"]
    for key, value in table["parameters"].items():
        origin = "fit" if key in fitted else sources.get(key, "")
        lines.append(f"| `{key}` | {value:.4g} | {tm.PARAMETER_UNITS[key]} | {origin} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_parameters())
    print(render_loo_table(), end="")
