#!/usr/bin/env python3
"""Soak: ``enet-edge demo`` for a long run on a looping video, its memory, descriptors and threads sampled.

A benchmark, not a test. It writes a looping video of CamVid val frames (once), starts

    enet-edge demo --model MODEL --source VIDEO --loop --no-show --limit FRAMES --serve 127.0.0.1:PORT --json ...

as its own process and, every ``--every`` frames (read from the demo's ``/stats``), records the demo process's
resident memory (``VmRSS``), open file descriptors (``/proc/PID/fd``) and threads (``Threads`` of
``/proc/PID/status``). Browser-like viewers (``--viewers``, reading ``/stream.mjpg`` as fast as they can) are attached
during every other block of ``--every`` frames: half the time. Each viewer is one more server thread and socket in the
demo while it is attached, so descriptors and threads are compared within the same viewer state.

Goal (issue #39): after the warm-up (``--warmup`` frames), resident memory grows by at most 5 MiB, descriptors and
threads are flat. Writes ``benchmarks/results/<date>-soak-<cpu>.json`` (every sample, the machine, the verdict) and a
short ``.md`` beside it.

    .venv/bin/python benchmarks/soak.py --model build/cpu --frames 50000      # ~30-60 min on 2 cores
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

GOAL_RSS_MIB = 5.0


def proc_sample(pid: int) -> Dict[str, int]:
    """Resident memory (KiB), open descriptors and threads of process ``pid``, from /proc (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {"rss_kib": int(fields["VmRSS"].split()[0]), "threads": int(fields["Threads"]),
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def make_video(frames_dir: Path, out: Path, fps: float = 15.0) -> Path:
    """The images of ``frames_dir`` (natural order) as one mp4 (mp4v), written once; returns ``out``."""
    if out.is_file():
        return out
    import cv2

    from enet_edge.device.frames import image_files

    files = image_files(frames_dir.iterdir())
    if not files:
        raise SystemExit(f"no images in {frames_dir}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{out.suffix}")
    first = cv2.imread(str(files[0]))
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (first.shape[1], first.shape[0]))
    for f in files:
        writer.write(cv2.imread(str(f)))
    writer.release()
    os.replace(tmp, out)
    return out


class Viewer(threading.Thread):
    """Reads ``/stream.mjpg`` until stopped, counting JPEG parts (a browser that keeps up)."""

    def __init__(self, host: str, port: int):
        super().__init__(daemon=True)
        self.host, self.port = host, port
        self.parts = 0
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            with socket.create_connection((self.host, self.port), timeout=10) as sock:
                sock.sendall(b"GET /stream.mjpg HTTP/1.0\r\nHost: soak\r\n\r\n")
                while not self._halt.is_set():
                    data = sock.recv(1 << 16)
                    if not data:
                        return
                    self.parts += data.count(b"--enetedgeframe")
        except OSError:
            return

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=15)


def stats(port: int) -> Optional[Dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def analyse(samples: Sequence[Dict[str, Any]], warmup: int, goal_mib: float = GOAL_RSS_MIB) -> Dict[str, Any]:
    """The verdict over ``samples`` (dicts with frames, rss_kib, fds, threads, viewers): resident memory growth
    after the warm-up (last minus the first sample at or past ``warmup`` frames, and the largest rise above it), and
    the spread of descriptors and threads within each viewer state (0 = flat)."""
    after = [s for s in samples if s["frames"] >= warmup]
    if len(after) < 2:
        return {"ok": False, "note": "too few samples after the warm-up"}
    base = after[0]["rss_kib"]
    growth = (after[-1]["rss_kib"] - base) / 1024
    peak = (max(s["rss_kib"] for s in after) - base) / 1024
    spread: Dict[str, Dict[str, int]] = {}
    for viewers in sorted({s["viewers"] for s in after}):
        group = [s for s in after if s["viewers"] == viewers]
        spread[str(viewers)] = {k: max(s[k] for s in group) - min(s[k] for s in group) for k in ("fds", "threads")}
    flat = all(v["fds"] == 0 and v["threads"] == 0 for v in spread.values())
    return {"warmup_frames": warmup, "rss_base_mib": round(base / 1024, 2), "rss_growth_mib": round(growth, 2),
            "rss_peak_rise_mib": round(peak, 2), "goal_rss_growth_mib": goal_mib, "spread_by_viewers": spread,
            "fds_threads_flat": flat, "ok": growth <= goal_mib and peak <= goal_mib and flat}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def write_markdown(doc: Dict[str, Any], path: Path) -> None:
    m, v, c = doc["machine"], doc["verdict"], doc["config"]
    frames = (doc.get("summary") or {}).get("frames") or doc["frames"]  # the demo's own count (samples end before)
    lines = [f"# Soak: `enet-edge demo` for {frames:,} frames", "",
             f"Measured {doc['created'][:10]} by `benchmarks/soak.py` on {m.get('cpu_model')}, "
             f"{m.get('logical_cores')} logical cores, {m.get('memory_gb')} GB, {m.get('os')}; Python "
             f"{m.get('python')}, openvino {m.get('versions', {}).get('openvino')}, opencv "
             f"{m.get('versions', {}).get('opencv')}. Machine shared with other work (not a latency figure).", "",
             f"Command: `{' '.join(c['command'])}`; {c['viewers']} viewer(s) on `/stream.mjpg` during every other "
             f"block of {c['every']:,} frames. {doc['seconds'] / 60:.1f} min, {frames / doc['seconds']:.1f} "
             f"FPS end to end (the last sample at {doc['frames']:,} frames); demo exit code {doc['exit_code']}, "
             f"stopped by "
             f"`{doc.get('summary', {}).get('stopped_by')}`.",
             "",
             f"**Verdict: {'met' if v.get('ok') else 'NOT met'}.** After the warm-up ({v.get('warmup_frames'):,} "
             f"frames) resident memory went from {v.get('rss_base_mib')} MiB by {v.get('rss_growth_mib')} MiB "
             f"(largest rise {v.get('rss_peak_rise_mib')} MiB; goal at most {v.get('goal_rss_growth_mib')} MiB); "
             f"descriptors and threads {'flat' if v.get('fds_threads_flat') else 'NOT flat'} within each viewer "
             f"state (spread by viewers attached: {v.get('spread_by_viewers')}).", "",
             "| frames | minutes | RSS MiB | fds | threads | viewers | FPS |", "|---|---|---|---|---|---|---|"]
    for s in doc["samples"]:
        lines.append(f"| {s['frames']:,} | {s['t_s'] / 60:.1f} | {s['rss_kib'] / 1024:.1f} | {s['fds']} | "
                     f"{s['threads']} | {s['viewers']} | {s['fps'] if s['fps'] is not None else '--'} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="build/cpu")
    p.add_argument("--frames", type=int, default=50000)
    p.add_argument("--every", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=5000)
    p.add_argument("--viewers", type=int, default=2)
    p.add_argument("--camvid", default=os.environ.get("ENET_EDGE_CAMVID", str(REPO.parent / "shared" / "camvid")))
    p.add_argument("--video", default="build/soak/camvid_val.mp4")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    p.add_argument("--progress", help="also rewrite this JSON after every sample (to follow a long run)")
    args = p.parse_args(argv)

    from enet_edge.device.bench.machine import machine_info

    video = make_video(Path(args.camvid) / "val", Path(args.video))
    port = free_port()
    summary_path = Path(args.video).with_name("soak_summary.json")
    command = [sys.executable, "-m", "enet_edge.cli", "demo", "--model", args.model, "--source", str(video),
               "--loop", "--no-show", "--limit", str(args.frames), "--serve", f"127.0.0.1:{port}",
               "--json", str(summary_path)]
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    started = time.monotonic()
    demo = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples: List[Dict[str, Any]] = []
    viewers: List[Viewer] = []
    next_mark = args.every
    doc: Dict[str, Any] = {}

    def document(seconds: float, exit_code: Optional[int]) -> Dict[str, Any]:
        return {"schema": "enet-edge-soak/1", "created": created, "machine": machine_info(),
                "config": {"command": command, "every": args.every, "viewers": args.viewers, "model": args.model,
                           "video": str(video), "warmup": args.warmup},
                "frames": samples[-1]["frames"] if samples else 0, "seconds": round(seconds, 1),
                "exit_code": exit_code, "samples": samples, "verdict": analyse(samples, args.warmup)}

    try:
        while demo.poll() is None:
            s = stats(port)
            if s is None or s.get("frames", 0) < next_mark or s["frames"] >= args.frames:  # (at the limit: closing)
                time.sleep(0.25)
                continue
            time.sleep(0.3)  # let the thread that served /stats end before counting threads
            row = dict(proc_sample(demo.pid), frames=s["frames"], t_s=round(time.monotonic() - started, 1),
                       viewers=s.get("viewers", 0), fps=s.get("fps"), frames_sent=s.get("frames_sent"))
            samples.append(row)
            print(f"soak: {row}", flush=True)
            next_mark += args.every
            block = s["frames"] // args.every
            for v in viewers:
                v.stop()
            viewers = []
            if block % 2 == 1:  # attach for the next block: half the time
                viewers = [Viewer("127.0.0.1", port) for _ in range(args.viewers)]
                for v in viewers:
                    v.start()
            if args.progress:
                Path(args.progress).write_text(json.dumps(document(time.monotonic() - started, None), indent=1))
    except KeyboardInterrupt:
        demo.send_signal(signal.SIGINT)
    finally:
        for v in viewers:
            v.stop()
        output = demo.communicate(timeout=120)[0]
    doc = document(time.monotonic() - started, demo.returncode)
    doc["demo_output_tail"] = output.splitlines()[-12:]
    if summary_path.is_file():
        doc["summary"] = json.loads(summary_path.read_text())
    machine = doc["machine"]
    name = f"{created[:10]}-soak-{slug(machine.get('cpu_model') or 'cpu')}-{machine.get('logical_cores')}c"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    write_markdown(doc, out / f"{name}.md")
    print(f"soak: {out / name}.json, .md; verdict {doc['verdict']}")
    return 0 if doc["verdict"].get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
