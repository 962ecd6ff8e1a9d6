"""What SendGrid's v3 Mail Send API would refuse: a request body checked against SendGrid's own contract.

The contract is shipped next to this module, ``contracts/sendgrid/tsg_mail_v3.json`` (Twilio's OpenAPI
3.1 file, JSON Schema 2020-12); ``validate_mail_send_body`` checks the request-body schema of
``POST /v3/mail/send`` plus the rules its README says the file cannot express, and answers in
SendGrid's error shape. The stand-in (``plugin.devtools.sendgrid_standin``) and tests use it.
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

__all__ = [
    "CONTRACT_PATH", "MAIL_SEND_PATH", "MAX_RECIPIENTS", "MAX_SEND_AT_AHEAD_SECONDS", "RESERVED_HEADERS",
    "Error", "api_error", "validate_mail_send_body", "validator",
]

CONTRACT_PATH = Path(__file__).parent / "contracts" / "sendgrid" / "tsg_mail_v3.json"
_CONTRACT_URI = "urn:ghostless:contracts:sendgrid:tsg_mail_v3"
MAIL_SEND_PATH = "/v3/mail/send"

MAX_RECIPIENTS = 1000
MAX_SEND_AT_AHEAD_SECONDS = 72 * 3600
# Headers SendGrid does not let a caller override (notes/stack/sendgrid.md, OAI spec `headers`).
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "x-sg-id", "x-sg-eid", "received", "dkim-signature", "Content-Type",
        "Content-Transfer-Encoding", "To", "From", "Subject", "Reply-To", "CC", "BCC",
    )
)

Error = dict[str, Any]  # {"message": str, "field": str | None, "help": None}


def api_error(message: str, field: str | None = None) -> Error:
    """One entry of SendGrid's `{"errors": [...]}` answer."""
    return {"message": message, "field": field, "help": None}


@cache
def validator() -> Draft202012Validator:
    """Validator for the request body, with the OpenAPI document's internal $refs resolvable.

    Built on first use (the contract is 35 kB of JSON), so importing this module costs nothing.
    """
    document = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
    # Register the whole OpenAPI document as one 2020-12 resource, so "#/components/..." refs
    # inside the body schema resolve against it.
    registry: Registry[Any] = Registry().with_resource(
        _CONTRACT_URI, DRAFT202012.create_resource(document)
    )
    request_body = document["paths"][MAIL_SEND_PATH]["post"]["requestBody"]
    pointer = request_body["$ref"] if "$ref" in request_body else None
    if pointer is None:
        raise ValueError("expected the mail send requestBody to be a $ref")
    schema = {"$ref": f"{_CONTRACT_URI}{pointer}/content/application~1json/schema"}
    return Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _schema_errors(body: Any) -> list[Error]:
    errors = []
    for err in sorted(validator().iter_errors(body), key=lambda e: list(map(str, e.absolute_path))):
        field = ".".join(str(p) for p in err.absolute_path) or None
        errors.append(api_error(err.message, field))
    return errors


def _extra_rule_errors(body: dict[str, Any]) -> list[Error]:
    """Rules the real API enforces that the OpenAPI file cannot express (see the README)."""
    errors: list[Error] = []
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list):
        return errors  # the schema already complained
    total = 0
    seen: dict[str, str] = {}
    for i, p in enumerate(personalizations):
        if not isinstance(p, dict):
            continue
        for kind in ("to", "cc", "bcc"):
            for j, recipient in enumerate(p.get(kind) or []):
                if not isinstance(recipient, dict) or not isinstance(recipient.get("email"), str):
                    continue
                total += 1
                name = recipient.get("name")
                if isinstance(name, str) and (";" in name or "," in name):
                    errors.append(api_error(
                        f"The {kind}.name cannot contain ';' or ','.",
                        f"personalizations.{i}.{kind}.{j}.name"))
                address = recipient["email"].strip().lower()
                field = f"personalizations.{i}.{kind}.{j}.email"
                if address in seen:
                    errors.append(api_error(
                        "Each unique email address in the personalizations array should only "
                        "be included once. You have included " + address + f" more than once "
                        f"(first at {seen[address]}).", field))
                else:
                    seen[address] = field
        custom_args = p.get("custom_args")
        if isinstance(custom_args, dict):
            for key, value in custom_args.items():
                if not isinstance(value, str):
                    errors.append(api_error("Custom args values must be strings.",
                                            f"personalizations.{i}.custom_args.{key}"))
    if total > MAX_RECIPIENTS:
        errors.append(api_error(
            "There is a limit of 1000 total recipients (to + cc + bcc) per request.",
            "personalizations"))

    now = time.time()
    for where, send_at in [("send_at", body.get("send_at"))] + [
        (f"personalizations.{i}.send_at", p.get("send_at"))
        for i, p in enumerate(personalizations) if isinstance(p, dict)
    ]:
        if isinstance(send_at, int) and send_at > now + MAX_SEND_AT_AHEAD_SECONDS:
            errors.append(api_error("send_at cannot be more than 72 hours in the future.", where))

    if "reply_to" in body and "reply_to_list" in body:
        errors.append(api_error("reply_to and reply_to_list cannot be used together.", "reply_to"))

    headers = body.get("headers")
    if isinstance(headers, dict):
        for name, value in headers.items():
            if name.lower() in RESERVED_HEADERS:
                errors.append(api_error(f"The header {name} is reserved and cannot be set.",
                                        f"headers.{name}"))
            elif not isinstance(value, str):
                errors.append(api_error("Header values must be strings.", f"headers.{name}"))

    if not body.get("template_id"):
        if not body.get("subject") and not all(
            isinstance(p, dict) and p.get("subject") for p in personalizations
        ):
            errors.append(api_error(
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject "
                "defined.", "subject"))
        if not body.get("content"):
            errors.append(api_error(
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block.", "content"))
    return errors


def validate_mail_send_body(body: Any) -> list[Error]:
    """All reasons the real API would refuse this body; [] when it would accept it."""
    errors = _schema_errors(body)
    if isinstance(body, dict):
        errors.extend(_extra_rule_errors(body))
    return errors
