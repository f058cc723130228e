"""The gallery package: a folder of catalogued whales and their fluke photos behind one :class:`Gallery`.

Rooms, one main thing each: :mod:`.gallery` (the :class:`Gallery` facade and :func:`reembed`), :mod:`.store`
(SQLite: transactions, audit log, queries), :mod:`.schema` (creating and upgrading the database),
:mod:`.derived_store` (fluke boxes, local features, a re-embedding's staging), :mod:`.files`
(content-addressed photo and thumbnail files, atomic writes, the writer lock), :mod:`.index_cache` (the
hnswlib index's life cycle), :mod:`.intake` (reading, analysing and storing photos in the crash-safe order),
:mod:`.search` (a query's analysis to verified, ranked candidates), :mod:`.transfer` (catalogue CSV import
and export), :mod:`.maintenance` (check, repair, re-embed) and :mod:`.reports` (what an import and a check
found).
"""

from __future__ import annotations

from whalegui.core.errors import (
    CatalogueError,
    DuplicatePhotoError,
    GalleryError,
    GalleryLockedError,
    ModelMismatchError,
    PhotoNotFoundError,
    WhaleExistsError,
    WhaleNotFoundError,
)
from whalegui.core.gallery.files import LOCK_NAME, PHOTOS_DIR, THUMB_SIZE, THUMBS_DIR
from whalegui.core.gallery.gallery import Gallery, reembed
from whalegui.core.gallery.index_cache import INDEX_NAME
from whalegui.core.gallery.intake import IMPORT_BATCH
from whalegui.core.gallery.reports import CheckReport, ImportReport
from whalegui.core.gallery.schema import SCHEMA_VERSION
from whalegui.core.gallery.search import OVERSAMPLE
from whalegui.core.gallery.store import DB_NAME
from whalegui.core.identify import Candidate, Identification, PhotoMatch
from whalegui.core.images import find_photos
from whalegui.core.records import PhotoRecord, WhaleSummary, validate_whale_id

__all__ = ["DB_NAME", "IMPORT_BATCH", "INDEX_NAME", "LOCK_NAME", "OVERSAMPLE", "PHOTOS_DIR", "SCHEMA_VERSION",
           "THUMBS_DIR", "THUMB_SIZE", "Candidate", "CatalogueError", "CheckReport", "DuplicatePhotoError",
           "Gallery", "GalleryError", "GalleryLockedError", "Identification", "ImportReport",
           "ModelMismatchError", "PhotoMatch", "PhotoNotFoundError", "PhotoRecord", "WhaleExistsError",
           "WhaleNotFoundError", "WhaleSummary", "find_photos", "reembed", "validate_whale_id"]
