"""The JSON error answer of the webhook endpoints (ATS, SendGrid events, SendGrid inbound).

Same shape as the API's errors (flask-smorest): `{"code", "status", "message"}`, so whoever reads
a refusal sees what is wrong in the same place whichever endpoint refused it.
"""

from __future__ import annotations

from http import HTTPStatus

from flask import Response, jsonify


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> tuple[Response, int]:
    response = jsonify(code=status, status=HTTPStatus(status).phrase, message=message)
    response.headers.update(headers or {})
    return response, status
