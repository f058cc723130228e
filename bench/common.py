"""Shared helpers for the benchmarks: timing, paired ratios, results, memory, the machine, shared data.

On a shared machine absolute times drift, so every comparison is measured as a paired ratio: A and B are
run alternately, several times, in the same process, and the median and the spread (min..max) of the
per-pair ratios are reported, not a ratio of two separately measured figures.
"""

from __future__ import annotations

import gc
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: The project's shared material (VGG16 weights, real photos): beside the checkout, optional;
#: ``WHALEGUI_SHARED`` names it for a checkout elsewhere (a git worktree).
SHARED = Path(os.environ.get("WHALEGUI_SHARED") or REPO / ".." / "shared").resolve()


def shared_path(*parts: str) -> Path | None:
    """A path inside ../shared, or None when ../shared (or that file) is absent."""
    p = SHARED.joinpath(*parts)
    return p if p.exists() else None


@dataclass
class Result:
    """One row of the table: a named figure, the bar it is held to (if any) and whether it met it."""

    bench: str
    name: str
    figure: str
    bar: str = ""
    met: bool | None = None  # None: no bar, or not measured
    skipped: str = ""  # why it was not run
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "FAILED" if self.skipped.startswith("error:") else "skipped"
        if self.met is None:
            return "-"
        return "met" if self.met else "NOT met"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["verdict"] = self.verdict
        return d


def skipped(bench: str, name: str, reason: str, bar: str = "") -> Result:
    return Result(bench, name, "-", bar, None, reason)


@dataclass
class Timing:
    """Repeated timings of one thing, in seconds."""

    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    def pct(self, q: float) -> float:
        """The q-th percentile (0..100), linear interpolation."""
        s = sorted(self.samples)
        if len(s) == 1:
            return s[0]
        pos = (len(s) - 1) * q / 100
        lo = int(pos)
        hi = min(lo + 1, len(s) - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - lo)

    def ms(self) -> str:
        return f"{self.median * 1e3:.1f} ms ({self.low * 1e3:.1f}..{self.high * 1e3:.1f})"


def time_once(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_many(fn: Callable[[], Any], reps: int, warmup: int = 1) -> Timing:
    for _ in range(warmup):
        fn()
    return Timing([time_once(fn) for _ in range(reps)])


@dataclass
class Paired:
    """A and B timed alternately; ``ratios`` are per-pair ``a / b`` (how many times faster B is)."""

    a: Timing
    b: Timing
    ratios: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def ratio_text(self) -> str:
        return f"{self.ratio:.1f}x ({min(self.ratios):.1f}..{max(self.ratios):.1f})"

    def to_dict(self) -> dict[str, Any]:
        return {"a_s": self.a.samples, "b_s": self.b.samples, "ratios": self.ratios,
                "a_median_s": self.a.median, "b_median_s": self.b.median, "ratio_median": self.ratio}


def paired(fn_a: Callable[[], Any], fn_b: Callable[[], Any], reps: int, warmup: int = 1) -> Paired:
    """Time A and B alternately ``reps`` times (order swapped every other pair, so drift hits both)."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    ta: list[float] = []
    tb: list[float] = []
    for i in range(reps):
        if i % 2 == 0:
            ta.append(time_once(fn_a))
            tb.append(time_once(fn_b))
        else:
            tb.append(time_once(fn_b))
            ta.append(time_once(fn_a))
    return Paired(Timing(ta), Timing(tb), [a / b for a, b in zip(ta, tb, strict=True)])


def rss_bytes() -> int:
    """This process's resident set size now."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes(pid: int | str = "self") -> int:
    """The peak resident set size (VmHWM) of a process."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


def collect() -> None:
    gc.collect()


def default_model() -> Path | None:
    """The bundled default model, when the training engineer has committed it."""
    p = REPO / "resources" / "models" / "whale-vgg16.onnx"
    return p if p.is_file() and p.with_suffix(".json").is_file() else None


def default_card() -> Any:
    from whalegui.core.model_card import ModelCard

    m = default_model()
    return ModelCard.load(m.with_suffix(".json")) if m else None


def model_prep() -> Any:
    """The default model's preprocessing, or VGG16 preprocessing at 128x384 until that model exists."""
    from whalegui.core.model_card import Preprocessing

    card = default_card()
    return card.preprocessing if card else Preprocessing.vgg16(128, 384)


def model_dim() -> int:
    card = default_card()
    return card.embedding_dim if card else 128


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    except OSError:
        pass
    versions: dict[str, str] = {"python": platform.python_version()}
    for dist in ("numpy", "Pillow", "onnxruntime-gpu", "onnxruntime", "hnswlib", "tensorflow", "keras",
                 "tf2onnx", "PySide6-Essentials"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count() or 0
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": affinity, "ram_gib": round(ram / 2**30, 1),
            "os": platform.platform(), "load_avg": os.getloadavg(), "versions": versions}


def cuda_available() -> bool:
    """ONNX Runtime's CUDA provider really runs a session here."""
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return "CUDAExecutionProvider" in ort.get_available_providers() and _cuda_session_works()


def _cuda_session_works() -> bool:
    try:
        import numpy as np
        import onnxruntime as ort
        from onnx import TensorProto, helper

        node = helper.make_node("Relu", ["x"], ["y"])
        graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        from whalegui.core.embedder import _quiet_native_stderr

        ort.set_default_logger_severity(4)
        opts = ort.SessionOptions()
        opts.log_severity_level = 4
        with _quiet_native_stderr():
            s = ort.InferenceSession(model.SerializeToString(), opts,
                                     providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
        s.run(None, {"x": np.ones(1, np.float32)})
        return bool(s.get_providers()[0] == "CUDAExecutionProvider")
    except Exception:
        return False


def dump_json(path: str | Path, payload: Any) -> None:
    Path(path).write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
