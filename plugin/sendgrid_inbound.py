"""(being built)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("sendgrid_inbound", __name__)
