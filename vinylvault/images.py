"""(placeholder: connects the image cache to the app; see ARCHITECTURE.md)"""

from flask import Flask


def init_app(app: Flask) -> None:
    pass
