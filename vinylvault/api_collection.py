"""(placeholder: this area is being built; see ARCHITECTURE.md)"""

from flask import Blueprint

bp = Blueprint("api_collection", __name__)
