"""``make bench`` on the CPU kinds below this machine's: each in a process of its own with oneDNN capped.

Users' CPUs are AVX2-only, AVX-512 with VNNI/BF16 (Zen 4) or AMX; the goals hold per kind. A machine of one kind
measures the kinds below it (:mod:`enet_edge.runtime.isa`: what the cap reaches and what it does not): for each, a
child process (``python -m enet_edge.workstation.suite.kind_child CONFIG OUT``) started with ``ONEDNN_MAX_CPU_ISA`` runs
the suite over OpenVINO's variants (:data:`~.config.KIND_VARIANTS`) and the goals' peers
(:data:`~.config.KIND_PEERS`) in interleaved latency rounds at every size, with its own mIoU column,
recommendation, peer goals and per-layer counters, at the precisions such a CPU runs. Exports and peer conversions
are shared with the main run (made uncapped when missing).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

from enet_edge.errors import DeviceError
from enet_edge.runtime.isa import ISA_LEVELS, IsaLevel, environ_for, isa_level, native_level
from enet_edge.workstation.suite.config import KIND_PEERS, KIND_VARIANTS, SuiteConfig, config_to_dict
from enet_edge.workstation.suite.exports import run_logged

CHILD = "enet_edge.workstation.suite.kind_child"
"""The module a kind's child process runs (``python -m``): it imports :mod:`.run`, which imports this module, so it
is a module of its own."""


def plan_kinds(config: SuiteConfig, flags: Sequence[str]) -> Tuple[List[IsaLevel], Dict[str, str]]:
    """(the kinds of ``config.cpu_kinds`` a CPU with ``flags`` emulates, {every other kind asked: why not})."""
    native = native_level(flags)
    native_index = ISA_LEVELS.index(native) if native else -1
    runs, not_run = [], {}
    for name in config.cpu_kinds:
        level = isa_level(name)
        if level is native:
            not_run[name] = "this machine is of this kind: the tables above are its measurements"
        elif ISA_LEVELS.index(level) > native_index:
            missing = sorted(set(level.flags) - set(flags))
            not_run[name] = (f"this CPU lacks {', '.join(missing)}; a CPU emulates only kinds below its own "
                             "(measure on such a CPU)")
        elif not set(KIND_VARIANTS) & set(config.variants):
            not_run[name] = f"none of its variants ({', '.join(KIND_VARIANTS)}) was asked for"
        else:
            runs.append(level)
    return runs, not_run


def kind_config(config: SuiteConfig, level: IsaLevel) -> SuiteConfig:
    """What the run as ``level`` measures: ``config``'s sizes, timing and mIoU frames; latency mode; the OpenVINO
    variants and goal peers ``config`` asked for; no compile table, no README."""
    return dataclasses.replace(config, modes=("latency",), variants=tuple(v for v in KIND_VARIANTS
                                                                          if v in config.variants),
                               peers=tuple(p for p in KIND_PEERS if p in config.peers), compile_variants=(),
                               readme=None, render=None, cpu_kinds=(), cpu_kind=level.name)


def run_kind(config: SuiteConfig, level: IsaLevel, log: Callable[[str], None]) -> Dict[str, Any]:
    """The suite document of :func:`kind_config` measured in a child process capped at ``level``.

    Raises :class:`DeviceError` with the child's last line when it fails."""
    with tempfile.TemporaryDirectory(prefix="enet-edge-kind-") as tmp:
        config_path, out = Path(tmp) / "config.json", Path(tmp) / "document.json"
        config_path.write_text(json.dumps(config_to_dict(kind_config(config, level))))
        command = [sys.executable, "-m", CHILD, str(config_path), str(out)]
        returncode, last = run_logged(command, environ_for(level, os.environ), log, f"  [{level.name}] ")
        if returncode != 0 or not out.is_file():
            raise DeviceError(f"the {level.name} run failed: {last}")
        return json.loads(out.read_text())


def run_kinds(config: SuiteConfig, flags: Sequence[str], log: Callable[[str], None]) -> Dict[str, Any]:
    """``{"native": kind or None, "runs": [{"kind", "title", "onednn_cap", "emulated": True, "document"}],
    "not_run": {kind: why}}`` for ``config.cpu_kinds`` on a CPU with ``flags``. Every run is an emulation (labelled
    so; no goal is judged on it: :func:`.report.verdict`)."""
    levels, not_run = plan_kinds(config, flags)
    runs = []
    for level in levels:
        log(f"as CPU kind {level.name} ({level.title}): ONEDNN_MAX_CPU_ISA={level.onednn_cap}")
        try:
            document = run_kind(config, level, log)
        except DeviceError as exc:
            not_run[level.name] = str(exc)
            continue
        runs.append({"kind": level.name, "title": level.title, "onednn_cap": level.onednn_cap, "emulated": True,
                     "document": document})
    native = native_level(flags)
    return {"native": native.name if native else None, "runs": runs, "not_run": not_run}
