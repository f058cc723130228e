"""``whalegui`` itself: the help lists app options and commands; mistakes are usage errors, never a window."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest

import whalegui.__main__ as entry
from whalegui.cli import CLI_COMMANDS

ROOT = Path(__file__).resolve().parents[1]

#: Runs each command line through ``whalegui.__main__.main`` in one fresh process with no display, and
#: reports what each printed and returned, and whether Qt was imported at all.
_PROBE = """
import contextlib, io, json, sys
from whalegui.__main__ import main
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    results.append({"code": code, "out": out.getvalue(), "err": err.getvalue()})
print(json.dumps({"results": results, "qt": sorted(m for m in sys.modules if m.startswith("PySide6"))}))
"""


def _headless_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _probe(*argvs: list[str], cwd: Path) -> tuple[list[dict[str, object]], list[str]]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(list(argvs))], cwd=cwd,
                          env=_headless_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    return report["results"], report["qt"]


def test_mistakes_are_usage_errors_with_a_hint_and_never_open_the_app(tmp_path: Path) -> None:
    (results, qt) = _probe(["help"], ["bogus"], ["identfy", "x.jpg"], ["--gallery", "G", "identify", "x.jpg"],
                           ["photo.jpg", "export"], ["--top", "many"], cwd=tmp_path)
    assert qt == []  # the app was never started: Qt was not even imported
    for r in results:
        assert r["code"] == 2 and r["out"] == "" and "Traceback" not in str(r["err"]), r
        assert str(r["err"]).startswith("usage: whalegui"), r
    help_, bogus, typo, late, after, top = (str(r["err"]).splitlines()[-1] for r in results)
    assert "unknown command 'help'" in help_ and "whalegui --help lists the commands" in help_
    assert "unknown command 'bogus'" in bogus and "whalegui --help" in bogus
    assert "unknown command 'identfy'" in typo and "did you mean 'identify'?" in typo
    assert "'identify' is a command" in late and "whalegui identify --gallery G x.jpg" in late
    assert "'export' is a command" in after
    assert "--top" in top


def test_help_lists_the_commands_and_the_app_options(tmp_path: Path) -> None:
    (results, qt) = _probe(["--help"], ["-h"], ["--version"], cwd=tmp_path)
    assert qt == []
    help_, short, version = results
    assert help_["code"] == short["code"] == 0 and help_["out"] == short["out"]
    text = str(help_["out"])
    for option in ("--gallery GALLERY", "--model MODEL.onnx", "--cpu", "--demo", "--top N", "PHOTO",
                   "--version"):
        assert option in text, option
    for name in CLI_COMMANDS:
        assert f"\n  {name} " in text, name
    assert "whalegui COMMAND --help" in text and "2 a usage error" in text
    assert version["code"] == 0 and version["out"] == f"whalegui {metadata.version('whalegui')}\n"


def test_the_module_entry_point_refuses_a_mistyped_command(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "whalegui", "identfy", "x.jpg"], cwd=tmp_path,
                          env=_headless_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "did you mean 'identify'?" in proc.stderr and proc.stdout == ""
    proc = subprocess.run([sys.executable, "-m", "whalegui", "--version"], cwd=tmp_path,
                          env=_headless_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == f"whalegui {entry.version()}"


def _recording_into(opened: list[list[str]]) -> Callable[[list[str]], int]:
    """A stand-in for the app's ``main``: it records the arguments it was opened with and succeeds."""

    def main(args: list[str]) -> int:
        opened.append(list(args))
        return 0

    return main


@pytest.mark.parametrize("argv", [[], ["--demo"], ["--gallery", "G"], ["--model", "M.onnx"], ["--cpu"],
                                  ["--gallery", "G", "--cpu", "photo.jpg"], ["--top", "3"]])
def test_app_command_lines_still_open_the_app(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    from whalegui.gui import app

    opened: list[list[str]] = []
    monkeypatch.setattr(app, "main", _recording_into(opened))
    monkeypatch.chdir(tmp_path)
    assert entry.main(argv) == 0
    assert opened == [argv]  # handed on unchanged


def test_a_command_goes_to_the_cli_not_the_app(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from whalegui.gui import app

    monkeypatch.setattr(app, "main", lambda args: pytest.fail("the app was opened"))
    assert entry.main(["identify"]) == 2  # the command's own usage error
    assert "usage: whalegui identify" in capsys.readouterr().err


def test_a_photo_named_like_a_word_still_opens_the_app(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    from whalegui.gui import app

    (tmp_path / "survey").mkdir()  # an existing folder without a suffix is a folder to queue
    opened: list[list[str]] = []
    monkeypatch.setattr(app, "main", _recording_into(opened))
    monkeypatch.chdir(tmp_path)
    assert entry.main(["survey"]) == 0 and opened == [["survey"]]


def test_every_option_of_the_app_is_known_to_the_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    """The app parses its own options; the entry point mirrors them for ``--help`` and its checks."""
    import re

    from whalegui.gui import app

    with pytest.raises(SystemExit):
        app.parse_args(["--help"])
    app_options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", capsys.readouterr().out))
    ours = {s for action in entry.app_parser()._actions for s in action.option_strings}
    assert app_options and app_options <= ours, app_options - ours
