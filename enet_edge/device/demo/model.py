"""The demo's model: which export to open when none is given, on which device, and opening it (also again after a
device fault, :mod:`.faults`)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from enet_edge.device.demo.config import DEFAULT_MODELS, DemoConfig
from enet_edge.errors import ArtifactError, DeviceError
from enet_edge.resources import PACKAGE_DIR



def default_model() -> Path:
    """First of :data:`DEFAULT_MODELS` holding a manifest, in the working directory then the repository."""
    roots = [Path.cwd(), PACKAGE_DIR.parent]
    for rel in DEFAULT_MODELS:
        for root in roots:
            if (root / rel / "manifest.json").is_file():
                return root / rel
    raise ArtifactError(f"no model given and none of {', '.join(DEFAULT_MODELS)} holds an export; run "
                        f"`enet-edge export --target ncs2` (or --target cpu) or pass --model PATH")


def _pick_device(artifact, requested: Optional[str]) -> str:
    """``requested``, else MYRIAD for an NCS export where a stick is plugged in and the backend runs there, else CPU."""
    from enet_edge.runtime.backends import backend

    if requested:
        return requested
    if not backend(artifact.backend).runs_on("MYRIAD"):
        return "CPU"
    target = (artifact.manifest or {}).get("target", "")
    if str(target).startswith("ncs"):
        from enet_edge.runtime.adapters import openvino_devices

        try:
            if any(d.startswith("MYRIAD") for d in openvino_devices()):
                return "MYRIAD"
        except (DeviceError, RuntimeError):
            return "CPU"
    return "CPU"


def open_model(config: DemoConfig, log: Callable[[str], None]):
    """Resolve and open the model: (Segmenter, artifact, device, effective nireq)."""
    from enet_edge.runtime.adapters import open_artifact
    from enet_edge.runtime.backends import TABLE, RunRequest, adapter_options, backend
    from enet_edge.runtime.manifest import resolve_artifact
    from enet_edge.runtime.segmenter import Segmenter

    path = Path(config.model) if config.model else default_model()
    artifact = resolve_artifact(path, config.backend)
    device = _pick_device(artifact, config.device)
    nireq = config.nireq
    if nireq > 1 and not backend(artifact.backend).async_queue:
        queued = " or ".join(row.name for row in TABLE if row.async_queue)
        log(f"note: --nireq {nireq} needs the {queued} backend; {artifact.backend} runs frames one at a time")
        nireq = 1
    options = adapter_options(artifact.backend, RunRequest(precision=config.precision, nireq=nireq, hint=config.hint))
    adapter = open_artifact(artifact, device=device, **options)
    try:
        segmenter = Segmenter.for_artifact(adapter, artifact)  # the model's classes (CamVid's by default)
    except BaseException:
        adapter.close()
        raise
    return segmenter, artifact, device, nireq


def precision_label(segmenter) -> str:
    run = segmenter.adapter.precision_run
    return run.label if run is not None else segmenter.adapter.precision
