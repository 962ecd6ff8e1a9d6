"""The SendGrid stand-in, re-exported for the tests' `from sendgrid_standin import ...`.

It lives in the package (`plugin/devtools/sendgrid_standin.py`, with the contract check in
`plugin/devtools/sendgrid_contract.py`) because `ghostless demo --sendgrid-standin` uses it at run time too.
"""

from plugin.devtools.sendgrid_contract import (
    CONTRACT_PATH,
    MAIL_SEND_PATH,
    MAX_RECIPIENTS,
    MAX_SEND_AT_AHEAD_SECONDS,
    RESERVED_HEADERS,
    Error,
    validate_mail_send_body,
)
from plugin.devtools.sendgrid_standin import LOCAL_HOSTS, SendGridStandIn, local_proxy_bypass

__all__ = [
    "CONTRACT_PATH",
    "LOCAL_HOSTS",
    "MAIL_SEND_PATH",
    "MAX_RECIPIENTS",
    "MAX_SEND_AT_AHEAD_SECONDS",
    "RESERVED_HEADERS",
    "Error",
    "SendGridStandIn",
    "local_proxy_bypass",
    "validate_mail_send_body",
]
