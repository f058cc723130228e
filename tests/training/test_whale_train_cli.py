"""``whale-train`` as a user meets it: without the train extra, its help, its output off a terminal, and
``synth`` into a folder that already holds a set."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from training.__main__ import main
from training.config import TrainConfig
from training.synthetic import generate_dataset
from training.tensorflow_setup import _native_stderr_filtered

REPO = Path(__file__).resolve().parents[2]

# Runs whale-train in a fresh interpreter in which the train extra's modules cannot be imported, as after
# the plain ``pip install whalegui``.
_WITHOUT_TENSORFLOW = """
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"tensorflow", "keras", "tf2onnx", "tensorboard"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from training.__main__ import main
sys.exit(main(sys.argv[1:]))
"""

_ANSI = re.compile(r"\x1b\[")
_NATIVE_LOG_LINE = re.compile(r"^[IWE]\d{4} ", re.MULTILINE)


def _env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, "PYTHONPATH": path}


def _whale_train(*args: str, without_tensorflow: bool = False, timeout: float = 120
                 ) -> subprocess.CompletedProcess[str]:
    code = _WITHOUT_TENSORFLOW if without_tensorflow else "import sys; from training.__main__ import main; " \
                                                         "sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=_env(),
                          cwd=REPO, timeout=timeout, check=False)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- without the train extra ---------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["fit", "--images", "IMAGES", "--out", "RUN"],
                                     ["export", "--run", "RUN", "--out", "m.onnx"]])
def test_without_tensorflow_a_command_that_needs_it_says_how_to_install_it(tmp_path: Path,
                                                                           command: list[str]) -> None:
    args = [str(tmp_path / a) if a.isupper() else a for a in command]
    done = _whale_train(*args, without_tensorflow=True)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"whale-train {command[0]}: needs TensorFlow")
    assert 'pip install "whalegui[train]"' in lines[0]
    assert not (tmp_path / "RUN").exists()  # refused before doing anything


def test_without_tensorflow_help_and_synth_still_work(tmp_path: Path) -> None:
    helped = _whale_train("fit", "--help", without_tensorflow=True)
    assert helped.returncode == 0 and "--epochs" in helped.stdout
    made = _whale_train("synth", "--out", str(tmp_path / "set"), "--whales", "2", "--width", "64-80",
                        without_tensorflow=True)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "set" / "train.csv").is_file()


# --- help --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [[], ["synth"], ["fit"], ["export"], ["evaluate"]])
def test_help_is_plain_text_with_defaults(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # as one line, wherever argparse wrapped it
    assert "`" not in text  # no reStructuredText markup
    if command == ["fit"]:
        d = TrainConfig()
        assert f"(default: {d.epochs})" in text and f"(default: {d.margin})" in text
        assert f"(default: {d.height}x{d.width})" in text
        assert "(default: None)" not in text and "(default: False)" not in text
    if command == ["evaluate"]:
        assert "--model MODEL.onnx" in text and "--images DIR" in text


# --- output off a terminal -------------------------------------------------------------------------------

def test_tensorflows_start_up_noise_is_dropped_and_the_rest_kept(capfd: pytest.CaptureFixture[str]) -> None:
    with _native_stderr_filtered():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to "
                    b"STDERR\n"
                    b"I0000 00:00:1796154064.728432   20140 port.cc:153] oneDNN custom operations are on.\n"
                    b"E0000 00:00:1796154069.711106   20140 cuda_platform.cc:52] failed call to cuInit\n"
                    b"something a user should see\n")
    assert capfd.readouterr().err == "something a user should see\n"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs the train extra")
def test_fit_off_a_terminal_prints_no_ansi_codes_and_no_tensorflow_noise(tmp_path: Path) -> None:
    synth = generate_dataset(tmp_path / "set", whales=4, train_per_whale=(2, 3), test_per_whale=0, seed=1,
                             width_range=(100, 140))
    done = _whale_train("fit", "--csv", str(synth.train_csv), "--images", str(synth.out / "train"),
                        "--out", str(tmp_path / "run"), "--weights", "none", "--image-size", "32x96",
                        "--epochs", "2", "--views", "2", "--embedding-dim", "8", "--batch-size", "4",
                        "--whales-per-batch", "2", "--min-photos", "1", "--val-fraction", "0", timeout=300)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert not _ANSI.search(output) and "\r" not in output
    assert not _NATIVE_LOG_LINE.search(done.stderr) and "absl::InitializeLog" not in done.stderr
    assert "Epoch 2/2" in done.stdout and "loss:" in done.stdout  # Keras still reports, a line per epoch


# --- synth -------------------------------------------------------------------------------------------------

SMALL = ["--whales", "3", "--train-per-whale", "1-2", "--width", "64-80"]


def test_synth_refuses_a_folder_holding_a_set_and_overwrite_leaves_no_old_photo(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "set"
    assert main(["synth", "--out", str(out), "--whales", "5", "--seed", "1", "--width", "64-80"]) == 0
    earlier = _digest(out)
    assert main(["synth", "--out", str(out), *SMALL, "--seed", "2"]) == 1
    err = capsys.readouterr().err
    assert "already holds a synthetic set" in err and "--overwrite" in err and "\r" not in err
    assert _digest(out) == earlier  # refused: untouched
    assert main(["synth", "--out", str(out), *SMALL, "--seed", "2", "--overwrite"]) == 0
    assert main(["synth", "--out", str(tmp_path / "fresh"), *SMALL, "--seed", "2"]) == 0
    assert _digest(out) == _digest(tmp_path / "fresh")  # exactly the new set, nothing of the old


def test_synth_never_removes_files_it_did_not_write(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "set"
    (out / "train").mkdir(parents=True)
    (out / "train" / "my_fluke.jpg").write_bytes(b"a researcher's photo")
    assert main(["synth", "--out", str(out), *SMALL, "--overwrite"]) == 1
    assert "did not write (such as my_fluke.jpg)" in capsys.readouterr().err
    assert (out / "train" / "my_fluke.jpg").read_bytes() == b"a researcher's photo"
    assert sorted(p.name for p in out.rglob("*")) == ["my_fluke.jpg", "train"]


@pytest.mark.parametrize("bad", [["--whales", "0"], ["--whales", "-3"], ["--whales", "two"],
                                 ["--whales", "2", "--unknown-whales", "-1"]])
def test_synth_bad_counts_are_usage_errors(tmp_path: Path, bad: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["synth", "--out", str(tmp_path / "set"), *bad])
    assert done.value.code == 2
    assert "usage: whale-train synth" in capsys.readouterr().err
    assert not (tmp_path / "set").exists()
    with pytest.raises(ValueError, match="whales >= 1"):
        generate_dataset(tmp_path / "api", whales=0)
