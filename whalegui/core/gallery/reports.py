"""What a bulk import and a check found: :class:`ImportReport` and :class:`CheckReport`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ImportReport:
    """The outcome of importing a labelled catalogue into the gallery."""

    imported: int = 0
    skipped_duplicates: int = 0  # photos already catalogued (by hash), or listed twice under other names
    skipped_new_whale: int = 0  # rows labelled ``new_whale``: not an identity
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file name as listed, reason)
    whales_created: int = 0
    total: int = 0  # photos listed (rows that named a usable file)
    cancelled: bool = False


@dataclass
class CheckReport:
    """The outcome of checking (and perhaps repairing) a gallery."""

    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # harmless findings (e.g. unreferenced photo files)

    @property
    def healthy(self) -> bool:
        """No problem is left (problems that were repaired are not counted)."""
        return len(self.problems) == 0
