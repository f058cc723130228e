"""TensorFlow for the command line: is the ``train`` extra installed, and an import without start-up noise.

TensorFlow's C++ side writes its start-up chatter (oneDNN, "could not find cuda drivers", ``cuInit``
failures on a machine without a GPU) straight to the process's stderr before its own logging is set up,
so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence it. :func:`import_tensorflow` imports TensorFlow and lists its
devices with file descriptor 2 captured, then writes back every captured line except that known noise.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator

log = logging.getLogger(__name__)

#: The command that installs what ``fit`` and ``export`` need beyond the app.
INSTALL_TRAIN_EXTRA = 'pip install "whalegui[train]"'
#: Top-level modules that only the ``train`` extra installs; a missing one means the extra is missing.
TRAIN_EXTRA_MODULES = frozenset({"tensorflow", "keras", "tf2onnx", "onnx", "matplotlib", "tensorboard"})

# Lines TensorFlow and absl print at start-up that say nothing a user can act on.
_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} .*"  # C++ INFO and WARNING lines (what TF_CPP_MIN_LOG_LEVEL=2 is meant to hide)
    r"|E\d{4} .*(cuInit|cuda_dnn|cuda_fft|cuda_blas|Unable to register|computation_placer).*)$")


def missing_modules(names: tuple[str, ...] = ("tensorflow", "keras")) -> list[str]:
    """Which of ``names`` cannot be imported (found without importing them)."""
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def is_train_extra_missing(exc: ImportError) -> bool:
    """Whether ``exc`` says a module of the ``train`` extra is not installed (not merely broken)."""
    return isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in TRAIN_EXTRA_MODULES


def import_tensorflow(*, verbose: bool = False) -> None:
    """Import TensorFlow and Keras and find the devices, keeping their start-up noise off stderr unless
    ``verbose`` (or ``TF_CPP_MIN_LOG_LEVEL`` is 0, which asks for it)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    quiet = not verbose and os.environ["TF_CPP_MIN_LOG_LEVEL"] != "0"
    with _native_stderr_filtered() if quiet else contextlib.nullcontext():
        tf = importlib.import_module("tensorflow")
        importlib.import_module("keras")
        tf.config.list_physical_devices()
    if quiet:
        tf.get_logger().setLevel(logging.ERROR)
        with contextlib.suppress(ImportError):
            from absl import logging as absl_logging

            absl_logging.set_verbosity(absl_logging.ERROR)


@contextlib.contextmanager
def _native_stderr_filtered() -> Iterator[None]:
    """Capture what anything in this process (C++ included) writes to file descriptor 2 while the block
    runs; then write back all of it but the known noise."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (a windowed process): nothing to keep quiet
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines() if line.strip() and not _NOISE.match(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()
