"""Ghostless: every interviewed candidate hears from the employer before a deadline.

`create_app(settings=None)` is the only entry point for the web process; nothing happens at import.
"""

# The faces are imported inside create_app, not here: `import plugin.clock` in a sweeper or a
# worker must not load Flask and every page.

from __future__ import annotations

import logging

from flask import Flask

from plugin import keys
from plugin.settings import Settings

MAX_BODY_BYTES = 1024 * 1024  # 1 MB: larger requests get 413 before they are read


def create_app(settings: Settings | None = None, runtime: "object | None" = None) -> Flask:
    """Build the web app. `runtime` lets a process (serve, demo, tests) share its services."""
    from plugin import runtime as runtime_module
    from plugin.api import register_api
    from plugin.api.ats_webhooks import bp as webhooks_bp
    from plugin.api.sendgrid_events import bp as sendgrid_events_bp
    from plugin.api.sendgrid_inbound import bp as sendgrid_inbound_bp
    from plugin.candidate.status_page import bp as status_page_bp
    from plugin.dashboard import register_dashboard
    from plugin.web.health import bp as health_bp
    from plugin.web.numbers import install_id_converter
    from plugin.web.sessions import close_at_teardown
    from plugin.web.unavailable import install_unavailable_handler

    if runtime is None:
        settings = (settings or Settings.from_env()).ensure_secret_key()
        rt = runtime_module.build(settings)
        runtime_module.install(rt)
    else:
        rt = runtime  # type: ignore[assignment]
        settings = rt.settings  # type: ignore[attr-defined]
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    app = Flask(__name__, instance_path=str(settings.instance_dir.resolve()))
    app.config.update(
        # Sessions and dashboard forms each get their own derived key; earlier keys still verify
        # (Flask's SECRET_KEY_FALLBACKS; itsdangerous, under Flask-WTF, takes a list, the signing key last).
        SECRET_KEY=keys.signing_key(settings, keys.DASHBOARD_SESSIONS),
        SECRET_KEY_FALLBACKS=keys.fallback_keys(settings, keys.DASHBOARD_SESSIONS),
        WTF_CSRF_SECRET_KEY=keys.verification_keys(settings, keys.DASHBOARD_FORMS),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        TESTING=settings.testing,
        JSON_SORT_KEYS=False,
    )
    app.extensions["ghostless"] = rt
    install_id_converter(app)  # before any route: every `<int:id>` refuses non-ASCII digits and ids past 64 bits
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    close_at_teardown(app)
    install_unavailable_handler(app)  # the database down: 503 and Retry-After on every route

    app.register_blueprint(health_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(sendgrid_events_bp)
    app.register_blueprint(sendgrid_inbound_bp)
    app.register_blueprint(status_page_bp)
    register_api(app)
    register_dashboard(app)
    return app
