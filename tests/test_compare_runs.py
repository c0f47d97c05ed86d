"""``enet-edge runs``: run directories compared by the mean of their last validations (synthetic logs)."""

import csv
import json

import pytest

from enet_edge.cli import main
from enet_edge.errors import ArtifactError, ConfigError
from enet_edge.workstation.compare_runs import CLASS_LOG, compare_markdown, summarize_run
from enet_edge.workstation.train import LOG_FIELDS


def write_run(run_dir, vals, classes=None, config=None):
    """A run directory: ``log.csv`` with val mIoU ``vals`` ({epoch: miou}) among unvalidated epochs,
    ``val_classes.csv`` from ``classes`` ({epoch: {name: iou}}), ``state.json`` with ``config``."""
    run_dir.mkdir(parents=True)
    with open(run_dir / "log.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
        writer.writeheader()
        for epoch in range(1, max(vals) + 1):
            writer.writerow({"epoch": epoch, "steps": epoch, "lr": 1e-4, "train_loss": 0.3, "val_miou": vals.get(epoch, ""),
                             "val_pixel_accuracy": "", "epoch_seconds": 1, "images_per_second": 1})
    if classes:
        names = list(next(iter(classes.values())))
        with open(run_dir / CLASS_LOG, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["epoch", *names])
            writer.writeheader()
            for epoch, row in classes.items():
                writer.writerow({"epoch": epoch, **row})
    if config is not None:
        (run_dir / "state.json").write_text(json.dumps({"epoch": max(vals), "config": config}))
    return run_dir


def test_summary_averages_the_last_validations_up_to_an_epoch(tmp_path):
    run = write_run(tmp_path / "a", {2: 0.60, 4: 0.66, 6: 0.62, 8: 0.64},
                    {2: {"Pole": 0.1, "Sky": 0.9}, 4: {"Pole": 0.2, "Sky": 0.9}, 6: {"Pole": 0.3, "Sky": 0.8},
                     8: {"Pole": 0.4, "Sky": ""}},
                    {"class_weighting": "mfb", "scale_min": 0.75, "scale_max": 1.5, "crop_height": 360,
                     "crop_width": 480, "learning_rate": 2e-4, "train_splits": "train"})
    last = summarize_run(run)
    assert last.epochs == (4, 6, 8) and last.miou == pytest.approx(0.64)
    assert last.per_class["Pole"] == pytest.approx(0.3) and last.per_class["Sky"] == pytest.approx(0.85)  # blank: skipped
    assert last.recipe == "mfb weights, scale 0.75-1.5, crop 360x480, lr 0.0002, train"
    early = summarize_run(run, window=2, epoch=5)
    assert early.epochs == (2, 4) and early.miou == pytest.approx(0.63) and early.per_class["Pole"] == pytest.approx(0.15)


def test_table_has_a_row_per_run_and_the_difference_to_the_first(tmp_path):
    a = summarize_run(write_run(tmp_path / "control", {2: 0.60, 4: 0.62}, {2: {"Pole": 0.2}, 4: {"Pole": 0.2}}))
    b = summarize_run(write_run(tmp_path / "mfb", {2: 0.61, 4: 0.64}, {2: {"Pole": 0.3}, 4: {"Pole": 0.4}}))
    old = summarize_run(write_run(tmp_path / "old", {2: 0.55}))  # no val_classes.csv: mIoU only
    lines = compare_markdown([a, b, old]).splitlines()
    assert lines[0] == "| run | recipe | epochs averaged | mIoU | Δ mIoU | Pole |"
    assert lines[2] == "| control |  | 2, 4 | 61.00 | +0.00 | 20.00 |"
    assert lines[3] == "| mfb |  | 2, 4 | 62.50 | +1.50 | 35.00 |"
    assert lines[4] == "| old |  | 2 | 55.00 | -6.00 | – |"
    with pytest.raises(ConfigError, match="Fence: not a class of these runs"):
        compare_markdown([a, b], ["Pole", "Fence"])


def test_bad_run_directories_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(ArtifactError, match="not a training run directory"):
        summarize_run(tmp_path)
    run = write_run(tmp_path / "r", {4: 0.6})
    with pytest.raises(ArtifactError, match="no validation up to epoch 2"):
        summarize_run(run, epoch=2)
    with pytest.raises(ConfigError, match="--window 0"):
        summarize_run(run, window=0)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "log.csv").write_text("a,b\n1,2\n")
    assert main(["runs", str(tmp_path / "bad")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no column epoch, val_miou" in err[0]


def test_cli_prints_the_table(tmp_path, capsys):
    a = write_run(tmp_path / "a", {2: 0.6, 4: 0.7}, {2: {"Pole": 0.2, "Sky": 0.9}, 4: {"Pole": 0.3, "Sky": 0.9}})
    assert main(["runs", str(a), str(a), "--window", "1", "--classes", "Pole"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("| Pole |") and out[2] == "| a |  | 4 | 70.00 | +0.00 | 30.00 |" and len(out) == 4


def test_a_resumed_log_keeps_only_rows_up_to_the_resume_epoch(tmp_path):
    from enet_edge.workstation.train.checkpoints import append_log, prepare_log

    path, fields = tmp_path / CLASS_LOG, ("epoch", "Sky", "Pole")
    prepare_log(path, 0, fields)
    for epoch in (2, 4, 6):
        append_log(path, {"epoch": epoch, "Sky": 0.9, "Pole": 0.1 * epoch}, fields)
    prepare_log(path, 4, fields)  # resuming at epoch 4: the row of epoch 6 will be written again
    with open(path) as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["2", "4"]
    with pytest.raises(ArtifactError, match="damaged"):
        prepare_log(path, 4, ("epoch", "Road"))  # another class set's log


def test_read_log_checks_the_header_and_cuts_at_an_epoch(tmp_path):
    from enet_edge.workstation.run_dir import log_rows_up_to, read_log

    path = tmp_path / "log.csv"
    path.write_text("epoch,val_miou\n1,\n2,0.5\n3,0.6\n")
    assert [r["epoch"] for r in read_log(path)] == ["1", "2", "3"]
    assert [r["val_miou"] for r in read_log(path, up_to=2)] == ["", "0.5"]
    with pytest.raises(ArtifactError, match=r"log.csv is damaged \(no column steps\); do this"):
        read_log(path, required=("epoch", "steps"), fix="do this")
    with pytest.raises(ArtifactError, match=r"is not epoch,steps\); delete it \(the log then restarts"):
        log_rows_up_to(path, 2, ("epoch", "steps"))  # a resume gives the resume advice
    assert len(log_rows_up_to(path, 2, ("epoch", "val_miou", "steps"))) == 2
    (tmp_path / "gap.csv").write_text("epoch,val_miou\n1,\n,0.5\n")
    with pytest.raises(ArtifactError, match=r"gap.csv is damaged \(invalid literal for int"):
        read_log(tmp_path / "gap.csv")  # a row without an epoch
    with pytest.raises(ArtifactError, match="missing.csv is damaged"):
        read_log(tmp_path / "missing.csv")


def test_a_value_that_is_not_a_number_is_named(tmp_path):
    run = write_run(tmp_path / "r", {2: 0.6}, {2: {"Pole": "x"}})
    with pytest.raises(ArtifactError, match=r"val_classes.csv holds a value that is not a number"):
        summarize_run(run)
    (run / "log.csv").write_text("epoch,val_miou\n2,nan?\n")
    with pytest.raises(ArtifactError, match=r"log.csv holds a value that is not a number"):
        summarize_run(run)


THIN_ARMS = ("thin_control", "thin_mfb", "thin_scale")
THIN_CLASSES = ("Pole", "SignSymbol", "Fence", "Pedestrian", "Bicyclist")


def test_the_documented_thin_class_table_is_what_the_committed_logs_say():
    """docs/training.md's thin-class comparison is `enet-edge runs` over the committed arm logs, figure for figure."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    summaries = [summarize_run(root / "runs" / arm, epoch=12) for arm in THIN_ARMS]
    assert all(s.epochs == (8, 10, 12) for s in summaries)
    table = compare_markdown(summaries, THIN_CLASSES).splitlines()[2:]
    doc = (root / "docs" / "training.md").read_text()
    for row, summary in zip(table, summaries):
        figures = row.split(" | ")[3:]  # mIoU, Δ mIoU, the thin classes
        documented = next(line for line in doc.splitlines() if line.startswith(f"| [`{summary.name}`]"))
        assert documented.rstrip(" |").split(" | ")[-len(figures):] == [f.rstrip(" |") for f in figures], summary.name
    control = summaries[0].miou
    assert all(s.miou - control < 0.005 for s in summaries[1:])  # the rule: no option is kept
