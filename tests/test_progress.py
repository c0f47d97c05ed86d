"""enet_edge.progress: the one millisecond format and the one progress bar of every command."""

import io

from enet_edge.progress import ProgressBar, format_ms


def test_format_ms_switches_to_microseconds():
    assert format_ms(12.3456) == "12.35 ms"
    assert format_ms(0.25) == "0.25 ms"
    assert format_ms(0.004) == "4.0 us"  # would print 0.00 ms
    assert format_ms(0.0123) == "12.3 us"
    assert format_ms(None) == "-" and format_ms(float("nan")) == "-"


def test_format_ms_missing_and_compact():
    assert format_ms(None, missing="--") == "--" and format_ms(float("nan"), "–") == "–"
    assert format_ms(12.3456, compact=True) == "12.3 ms"  # the demo's HUD: 1 decimal from 10 ms on
    assert format_ms(9.876, compact=True) == "9.88 ms"
    assert format_ms(0.05, compact=True) == "50.0 us"


def test_progress_bar_draws_one_line():
    stream = io.StringIO()
    bar = ProgressBar(4, "eval val", stream=stream, width=8)
    bar.update(2, miou="1%", ms="3.0")
    text = stream.getvalue()
    assert text.startswith("\reval val [####....] 2/4 ") and "miou=1% ms=3.0" in text and "\n" not in text
    bar.update(4)
    assert "[########] 4/4" in stream.getvalue()
    bar.close()
    assert stream.getvalue().endswith("\n")


def test_progress_bar_silent_when_disabled():
    stream = io.StringIO()
    bar = ProgressBar(3, "x", stream=stream, enabled=False)
    bar.update(1)
    bar.close()
    assert stream.getvalue() == ""


def test_progress_bar_with_nothing_to_do():
    stream = io.StringIO()
    ProgressBar(0, "x", stream=stream, width=4).update(0)
    assert "[....] 0/0" in stream.getvalue()


def test_the_commands_share_them():
    """bench, demo, eval and train format and draw through this module, not through copies of it."""
    from enet_edge.device import bench
    from enet_edge.device.demo import loop
    from enet_edge.device.evaluate import run as evaluate
    from enet_edge.workstation.train import trainer as train

    assert bench.format_ms is format_ms and loop.format_ms is format_ms
    assert evaluate.ProgressBar is ProgressBar and train.ProgressBar is ProgressBar
