"""The kiosk tests reuse the page tests' real apps (temporary DATA_DIRs, the small collection)."""

from tests.pages.conftest import (demo_app, demo_covers, empty_app, guest, make_app, owner,  # noqa: F401
                                  small_app)
