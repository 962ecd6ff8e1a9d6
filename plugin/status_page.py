"""(being built)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("status_page", __name__)
