"""The kiosk tests reuse the page tests' real apps (temporary DATA_DIRs, the small collection).

The kiosk in chromium is tested with the other browser tests, in tests/browser/test_kiosk.py.
"""

from tests.pages.conftest import (
    demo_app,
    demo_covers,
    empty_app,
    guest,
    make_app,
    owner,
    small_app,
)
