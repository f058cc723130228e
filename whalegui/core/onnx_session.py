"""ONNX Runtime sessions for the app's models (the embedder and the fluke finder): on the CUDA provider
when it really runs on this machine, otherwise on the CPU, saying which in the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whalegui.core.errors import ModelError

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def make_session(path: Path, device: str, threads: int | None) -> Any:
    """An ONNX Runtime session on CUDA when it really runs here (or as ``device`` says), else on the CPU."""
    import onnxruntime as ort  # imported here: a heavy import the GUI does off the main thread

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    want_cuda = device != "cpu" and CUDA in ort.get_available_providers()
    fallback_level = logging.WARNING if device == "cuda" else logging.INFO
    if want_cuda:
        try:
            with _quiet_native_stderr(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                session = ort.InferenceSession(str(path), options, providers=[CUDA, CPU])
            if session.get_providers()[0] == CUDA:
                log.info("running %s on the CUDA GPU", path.name)
                return session
            log.log(fallback_level, "CUDA is installed but cannot run here (no GPU or CUDA libraries); "
                                    "using the CPU")
        except Exception as exc:
            if _is_model_error(exc):
                raise ModelError(path, f"not a valid ONNX model ({_first_line(exc)})") from exc
            log.log(fallback_level, "CUDA could not start (%s); using the CPU", _first_line(exc))
    elif device == "cuda":
        log.warning("CUDA was asked for but this ONNX Runtime has no CUDA provider; using the CPU")
    try:
        session = ort.InferenceSession(str(path), options, providers=[CPU])
    except Exception as exc:
        raise ModelError(path, f"not a valid ONNX model ({_first_line(exc)})") from exc
    log.info("running %s on the CPU", path.name)
    return session


def _is_model_error(exc: Exception) -> bool:
    text = str(exc)
    return "INVALID_PROTOBUF" in text or "INVALID_GRAPH" in text or "Load model" in text


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence what ONNX Runtime's C++ side prints to stderr while it probes for CUDA libraries.

    The C++ side writes to file descriptor 2 whatever ``sys.stderr`` is (pytest's capture, a GUI without a
    console), so that descriptor is redirected, not ``sys.stderr``.
    """
    fd = 2
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    try:
        saved = os.dup(fd)
    except OSError:  # no stderr at all (pythonw on Windows): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
