"""What the app says to a researcher: titles and texts of dialogs, status lines, counts and dates.

Messages about errors are chosen by the exception's type and the data it carries, never by matching its
text. Every error message says what happened and what to do. Qt-free, so it is tested on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from whalegui.core import errors
from whalegui.wording import plural

if TYPE_CHECKING:
    from whalegui.core.gallery import ImportReport

log = logging.getLogger(__name__)

#: How many of an import's problems a dialog lists by name (the rest are in the log file).
LISTED_PROBLEMS = 8
LOG_HINT = "the log file (Help > Open log folder)"


@dataclass(frozen=True)
class Message:
    """A dialog's title and text."""

    title: str
    text: str


#: Help > Keyboard shortcuts (F1).
SHORTCUTS_HELP = """<table>
<tr><td><b>Enter</b></td><td>do what the verdict proposes (the highlighted button)</td></tr>
<tr><td><b>C</b></td><td>same whale: confirm the selected candidate</td></tr>
<tr><td><b>N</b></td><td>new whale: enroll the query</td></tr>
<tr><td><b>S</b></td><td>skip: decide later</td></tr>
<tr><td><b>X</b></td><td>not this whale: mark the selected candidate wrong (again: take it back)</td></tr>
<tr><td><b>Ctrl+Z, Ctrl+Shift+Z</b></td><td>undo the last confirm or new whale; redo it</td></tr>
<tr><td><b>← →</b></td><td>previous / next candidate</td></tr>
<tr><td><b>↑ ↓</b></td><td>previous / next photo of the selected whale</td></tr>
<tr><td><b>+ - 0 1</b></td><td>zoom in, zoom out, fit, 1:1 (mouse wheel zooms, drag pans)</td></tr>
<tr><td><b>[ ] H V</b></td><td>rotate the query left / right, flip it left-right / upside down</td></tr>
<tr><td><b>B, Shift+drag</b></td><td>draw the fluke's box on the query and identify it again with it</td></tr>
<tr><td><b>M</b></td><td>show or hide the matched marks between the query and the candidate</td></tr>
<tr><td><b>Ctrl+O, Ctrl+V</b></td><td>open photos, paste photos (or drop them anywhere)</td></tr>
<tr><td><b>F9</b></td><td>show or hide the queue (more room for the photos)</td></tr>
</table>"""

#: What the review says while a catalogue is imported into an empty gallery.
IMPORTING_TEXT = (
    "Each photo is read, checked and embedded; the whales are in the gallery as each batch is done. "
    "Cancel at the top of the window keeps what was imported; importing again resumes."
)


# ---------------------------------------------------------------------------------------------- words


def day(value: datetime | None) -> str:
    """A date as ``2024-08-02``; empty when unknown, so callers leave the phrase out."""
    return value.strftime("%Y-%m-%d") if value is not None else ""


def moment(value: datetime | None) -> str:
    """A date and time as ``2024-08-02 14:05``; empty when unknown."""
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def gallery_summary(whale_count: int, photo_count: int) -> str:
    """``12 whales, 28 photos`` (the status bar and the gallery browser)."""
    return f"{plural(whale_count, 'whale')}, {plural(photo_count, 'photo')}"


# ---------------------------------------------------------------------------------------------- errors


def error_reason(exc: BaseException) -> str:
    """The reason in a few words: the ``reason`` the core's error carries, else its first line."""
    if isinstance(exc, errors.PhotoError | errors.ModelError | errors.CatalogueError) and exc.reason:
        return exc.reason
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def load_error(exc: BaseException) -> Message:
    """Loading the model or opening the gallery failed."""
    if isinstance(exc, errors.ModelError):
        if not exc.path.is_file():
            return Message(
                "No identification model",
                f"The model {exc.path} was not found.\n\nThe bundled model may not be installed. Start "
                "whalegui with --model MODEL.onnx (the .json card beside it), or reinstall whalegui.",
            )
        return Message(
            "The model cannot be used",
            f"The model {exc.path} cannot be used: {exc.reason}.\n\n"
            "Choose another model with --model, or reinstall whalegui.",
        )
    if isinstance(exc, errors.GalleryLockedError):
        return Message(
            "The gallery is in use",
            f"{exc}.\n\nClose the other whalegui window or command that uses this gallery, then start again.",
        )
    if isinstance(exc, errors.ModelMismatchError):
        return Message("The gallery needs re-embedding", f"{exc}.")
    if isinstance(exc, errors.WhaleguiError):
        return Message(
            "The gallery cannot be opened",
            f"{exc}.\n\nCheck the folder (--gallery DIR) or run 'whalegui check' on it.",
        )
    return Message(
        "Start-up failed", f"Loading failed: {error_reason(exc)}.\n\nThe details are in {LOG_HINT}."
    )


def gallery_missing(folder: Path) -> Message:
    """A gallery folder the user named does not exist: ask before creating an empty one there."""
    return Message(
        "No gallery in this folder",
        f"There is no gallery at\n{folder}\n(the folder does not exist).\n\nIf your gallery is on a drive "
        "that is not connected, connect it and choose another folder. Create a new, empty gallery there?",
    )


def no_gallery(folder: Path) -> Message:
    """The user declined to create a gallery: what the window says instead."""
    return Message(
        "No gallery open",
        f"No gallery was created at {folder}.\n\nOpen your gallery folder with File > Open gallery folder, "
        "or start whalegui with --gallery DIR.",
    )


def write_failed(action: str, photo_name: str, exc: BaseException) -> Message:
    """A confirm or an enroll did not reach the gallery."""
    if isinstance(exc, errors.WhaleExistsError):
        return Message(
            f"{action} failed",
            f"A whale {exc.whale_id} is already in the gallery, so {photo_name} was not enrolled.\n\n"
            "Choose another id, or confirm the match with that whale instead.",
        )
    if isinstance(exc, errors.WhaleNotFoundError):
        return Message(
            f"{action} failed",
            f"The whale {exc.whale_id} is no longer in the gallery (renamed, merged or deleted), so "
            f"{photo_name} was not added.\n\nChoose another candidate, or enroll it as a new whale.",
        )
    return Message(
        f"{action} failed",
        f"{action} of {photo_name} failed: {error_reason(exc)}.\n\nThe gallery was not changed. "
        f"Try again; if it keeps failing, see {LOG_HINT}.",
    )


def already_catalogued(photo_name: str, whale_id: str | None) -> Message:
    """The photo (same content) is in the gallery already."""
    under = f" under whale {whale_id}" if whale_id else ""
    return Message(
        "Already in the gallery", f"{photo_name} is already in the gallery{under}; nothing was added."
    )


def gallery_change_failed(what: str, exc: BaseException) -> Message:
    """A browser edit (rename, merge, delete, remove, export, list) failed."""
    if isinstance(exc, errors.WhaleNotFoundError):
        reason = f"there is no whale {exc.whale_id} in the gallery (it may have been renamed or merged)"
    elif isinstance(exc, errors.WhaleExistsError):
        reason = f"a whale {exc.whale_id} is already in the gallery; choose another id"
    elif isinstance(exc, errors.PhotoNotFoundError):
        reason = f"photo {exc.photo_id} is no longer in the gallery"
    elif isinstance(exc, OSError):
        reason = f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    else:
        reason = error_reason(exc)
    return Message(f"{what} failed", f"{what} failed: {reason}.\n\nThe gallery was not changed.")


def identify_failed(photo_name: str, exc: BaseException) -> Message:
    """An identification failed for a reason other than an unreadable photo."""
    return Message(
        "Identification failed",
        f"Identifying {photo_name} failed: {error_reason(exc)}.\n\nThe details are in {LOG_HINT}.",
    )


def box_failed(photo_name: str, exc: BaseException) -> Message:
    """Identifying a photo again with the box the researcher drew failed (a box too small, say)."""
    return Message(
        "Identification with the box failed",
        f"{photo_name} could not be identified with the box drawn: {error_reason(exc)}.\n\n"
        "Its earlier candidates still stand; draw a larger box around the fluke to try again.",
    )


def sighting_invalid(problem: str) -> Message:
    """The sighting typed for the photo under review cannot be recorded, so the decision waits."""
    return Message(
        "Check the sighting",
        f"The sighting cannot be recorded: {problem}.\n\nCorrect it in the sighting fields above the "
        "buttons (or clear the position), then decide again.",
    )


def undo_failed(what: str, exc: BaseException) -> Message:
    """Undoing a decision did not reach the gallery."""
    return Message(
        "Undo failed",
        f"Could not undo {what}: {error_reason(exc)}.\n\nChange it in the gallery browser.",
    )


def redo_failed(what: str, exc: BaseException) -> Message:
    """Redoing a decision did not reach the gallery."""
    return Message(
        "Redo failed", f"Could not redo {what}: {error_reason(exc)}.\n\nDecide on the photo again."
    )


def import_failed(exc: BaseException) -> Message:
    """A catalogue import stopped with an error."""
    if isinstance(exc, errors.CatalogueError):
        where = f"{exc.path.name}, row {exc.row}" if exc.row is not None else str(exc.path)
        return Message(
            "Import failed",
            f"The catalogue could not be imported: {where}: {exc.reason}.\n\nCheck that the CSV has the "
            "columns Image and Id and that the photos are in the folder you chose, or use a folder with "
            "one sub-folder per whale.",
        )
    return Message(
        "Import failed",
        f"The catalogue could not be imported: {error_reason(exc)}.\n\nNothing after the last finished "
        f"batch was added; importing again resumes. The details are in {LOG_HINT}.",
    )


def no_demo(exc: BaseException) -> Message:
    """The bundled demo catalogue is missing."""
    return Message(
        "No demo catalogue",
        f"The demo catalogue is not installed ({exc}).\n\n"
        "Import your own catalogue with File > Import catalogue instead.",
    )


def paste_failed(exc: BaseException) -> Message:
    """A pasted image could not be written to a file."""
    return Message(
        "Paste failed",
        f"The pasted image could not be saved: {error_reason(exc)}.\n\nSave it as a file, then open that.",
    )


def unexpected_error(exc: BaseException, log_path: Path | None) -> Message:
    """The text of the dialog for an error nobody planned for."""
    where = f"The details are in {log_path}." if log_path else "The details were printed to the terminal."
    return Message(
        "Something went wrong",
        f"An unexpected error happened: {type(exc).__name__}: {error_reason(exc)}.\n\nYour gallery is safe "
        f"(every change is saved when it is made). {where} If it happens again, restart whalegui and send "
        "that file to its developers.",
    )


# ---------------------------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class ImportSummary:
    """An import's report in words: one line for the status bar; the full text, and whether it needs a
    dialog (problems, or a cancelled import)."""

    line: str
    text: str
    needs_dialog: bool


def import_summary(report: ImportReport) -> ImportSummary:
    """An import's report in words."""
    imported = f"{plural(report.imported, 'photo')} imported ({plural(report.whales_created, 'new whale')})"
    lines = [imported, f"{report.skipped_duplicates} already in the gallery"]
    if report.skipped_new_whale:
        lines.append(f"{report.skipped_new_whale} labelled new_whale skipped")
    problems = report.errors
    if problems:
        lines.append(f"{plural(len(problems), 'photo')} could not be imported:")
        lines += [f"  {name}: {reason}" for name, reason in problems[:LISTED_PROBLEMS]]
        if len(problems) > LISTED_PROBLEMS:
            lines.append(f"  … and {len(problems) - LISTED_PROBLEMS} more (see the log file)")
    if report.cancelled:
        lines.insert(0, "Cancelled: the photos imported so far are kept; importing again resumes.")
        imported = f"Import cancelled: {imported}"
    return ImportSummary(imported, "\n".join(lines), bool(problems) or report.cancelled)
