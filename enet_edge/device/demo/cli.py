"""``enet-edge demo`` and ``demo/camera_demo.py`` on the command line: argparse in, :class:`DemoConfig` out."""

from __future__ import annotations

from typing import List, Optional

from enet_edge.device.demo.config import DEFAULT_CAMERA_TIMEOUT_S, DEFAULT_DEVICE_RETRIES, DemoConfig
from enet_edge.device.demo.loop import run_demo
from enet_edge.errors import EXIT_TERMINATED, DeviceError, InputError, Interrupted
from enet_edge.runtime.backends import BACKENDS

HELP = "live segmentation demo: camera/video/images -> overlay + legend + FPS/latency HUD"
KEYS_HELP = "keys (window only): q/ESC quit, space pause, TAB overlay <-> mask only"


def add_arguments(p) -> None:
    """Add the demo's options to an argparse parser."""
    p.add_argument("--source", default="0",
                   help="camera index (0), video file, folder of images (natural order) or glob (quote it); default 0")
    p.add_argument("--model", help="export directory, .xml/.onnx/.pb or .npz weights (default: build/ncs2 if present, "
                                   "else build/cpu)")
    p.add_argument("--backend", choices=BACKENDS,
                   help="default: by artifact (an export directory runs its OpenVINO IR; .npz weights run with keras)")
    p.add_argument("--device", "-d", help="OpenVINO device: CPU, MYRIAD, GPU, AUTO, or several at once: "
                                          "MULTI:MYRIAD.1.1-ma2480,MYRIAD.1.2-ma2480 (two sticks), AUTO:CPU,GPU ... "
                                          "(default: MYRIAD for an NCS export when one is plugged in, else CPU)")
    p.add_argument("--hint", choices=("latency", "throughput", "cumulative_throughput"),
                   help="OpenVINO PERFORMANCE_HINT (with several devices: throughput or cumulative_throughput, and "
                        "--nireq 2+ per device so that every device has frames)")
    p.add_argument("--nireq", type=int, default=1,
                   help="inference requests in flight (OpenVINO); 2+ overlaps inference of frame i+1 with "
                        "rendering of frame i, frames stay in order")
    p.add_argument("--alpha", type=float, default=0.5, help="opacity of the class colours over the frame (0..1)")
    p.add_argument("--mask-only", action="store_true", help="start showing the class colours alone (TAB toggles)")
    p.add_argument("--no-legend", action="store_true", help="no legend panel (output is then the frame's size)")
    p.add_argument("--no-hud", action="store_true", help="no FPS/latency HUD")
    p.add_argument("--no-show", action="store_true", help="no window (headless; use with --output and/or --limit)")
    p.add_argument("--output", help="write rendered frames: video (.mp4/.avi), folder of PNGs (a directory or a "
                                    "path ending in /), or one image (.png/.jpg: the last frame, a screenshot)")
    p.add_argument("--output-fps", type=float, help="frame rate of an output video (default: the source's, else 15)")
    p.add_argument("--limit", type=int, help="stop after N frames")
    p.add_argument("--loop", action="store_true", help="restart a video or image sequence at its end")
    p.add_argument("--json", dest="json_path", help="write the run summary (frames, FPS, per-stage ms) as JSON here")
    p.add_argument("--serve", metavar="[HOST:]PORT",
                   help="serve the live overlay, legend and HUD to browsers at http://HOST:PORT/ (MJPEG; /stats is "
                        "JSON); HOST defaults to 127.0.0.1 (this machine only): 0.0.0.0:PORT exposes it to your "
                        "network")
    p.add_argument("--camera-timeout", type=float, default=DEFAULT_CAMERA_TIMEOUT_S, metavar="SECONDS",
                   help=f"a live camera that stops delivering frames is reopened, with backoff, for this long; then "
                        f"the run ends with exit 2 (default {DEFAULT_CAMERA_TIMEOUT_S:g})")
    p.add_argument("--device-retries", type=int, default=DEFAULT_DEVICE_RETRIES, metavar="N",
                   help=f"an inference or device error (a stick reset or unplugged) reopens the model on the same "
                        f"device, with backoff, up to N times per fault; then --fallback-device, else the run ends "
                        f"with exit 2 (default {DEFAULT_DEVICE_RETRIES})")
    p.add_argument("--fallback-device", metavar="DEVICE",
                   help="device or device list to go on with once --device-retries are spent (e.g. CPU)")
    p.add_argument("--precision", help="f32, f16 or bf16 asked of OpenVINO (default: the device's own; what ran "
                                       "is read back and shown)")


def config_from_args(args) -> DemoConfig:
    return DemoConfig(
        source=args.source, model=args.model, backend=args.backend, device=args.device, nireq=args.nireq,
        alpha=args.alpha, mode="mask" if args.mask_only else "overlay", legend=not args.no_legend,
        hud=not args.no_hud, show=not args.no_show, output=args.output, output_fps=args.output_fps,
        limit=args.limit, loop=args.loop, json_path=args.json_path, precision=args.precision, hint=args.hint,
        serve=args.serve, camera_timeout=args.camera_timeout, device_retries=args.device_retries,
        fallback_device=args.fallback_device)


def run_from_args(args) -> int:
    summary = run_demo(config_from_args(args))
    print(summary.format())
    if summary.stopped_by in ("interrupt", "terminated"):  # finalized above; exits 130 (143) like every command
        error = Interrupted(f"{'terminated (SIGTERM)' if summary.stopped_by == 'terminated' else 'interrupted (Ctrl-C)'}"
                            f" after {summary.frames} frame(s); "
                            + ("the output and summary were finalized" if args.output or args.json_path
                               else "the summary above covers them"))
        if summary.stopped_by == "terminated":
            error.exit_code = EXIT_TERMINATED
        raise error
    if summary.error:  # a camera or device lost for good: outputs finalized above, then one line and exit 2
        raise (InputError if summary.stopped_by == "camera-lost" else DeviceError)(summary.error)
    return 0


def add_cli(sub) -> None:
    """Register ``enet-edge demo`` on the CLI's subparsers."""
    p = sub.add_parser("demo", help=HELP, description=f"{HELP}. {KEYS_HELP}.")
    add_arguments(p)
    p.set_defaults(func=run_from_args)


def main(argv: Optional[List[str]] = None, prog: str = "camera_demo.py") -> int:
    """Stand-alone entry point (``demo/camera_demo.py``): same options and errors as ``enet-edge demo``."""
    import argparse

    from enet_edge.command import run_command

    parser = argparse.ArgumentParser(prog=prog, description=f"{HELP}. {KEYS_HELP}.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_command(prog, lambda: run_from_args(args))
