"""(being built)"""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("replies", __name__, url_prefix="/api/v1", description="(being built)")
