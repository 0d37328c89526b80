"""Where the tests find things: the repository, and the corpus in ``../shared`` beside it.

The corpus is not in the repository: ``../shared/corpus/images`` holds the hard
real images and their ``MANIFEST.tsv``, ``../shared/corpus/discogs`` the
recorded Discogs answers. Every test, benchmark and tool finds it through
:func:`shared_path`, which names the missing path rather than letting a test
fail later on an empty listing.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"


class SharedMissing(FileNotFoundError):
    """A path under ../shared is not there (the worktree is not beside ``shared``)."""


def shared_path(*parts: str) -> Path:
    """``../shared/<parts>``, which must exist; :class:`SharedMissing` names it otherwise."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        raise SharedMissing(f"{path} missing: the tests need the corpus in {SHARED}, beside the repository")
    return path


def image_corpus() -> Path:
    """../shared/corpus/images: the hard real images and their MANIFEST.tsv."""
    return shared_path("corpus", "images")


def discogs_corpus() -> Path:
    """../shared/corpus/discogs: recorded Discogs API answers."""
    return shared_path("corpus", "discogs")


def image_manifest() -> Path:
    """../shared/corpus/images/MANIFEST.tsv: what each corpus image is and how it must be handled."""
    return shared_path("corpus", "images", "MANIFEST.tsv")
