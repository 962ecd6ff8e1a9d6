# syntax=docker/dockerfile:1
# One image for every Ghostless process. The default command is the web server. Override the
# command to run the other processes: `worker`, `sweeper`, `db upgrade`, `sweep --at ...`, `demo --no-serve`.
#
#   docker build -t ghostless .
#   docker run --rm -p 8000:8000 ghostless                 # web (embedded SQLite + Redis, outbox)
#   docker run --rm ghostless worker                        # needs GHOSTLESS_DATABASE_URL/REDIS_URL
#
# See examples/docker-compose.yml for PostgreSQL + Redis + web + worker + sweeper, and
# examples/env.example for every setting.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN groupadd --system --gid 10001 ghostless \
 && useradd --system --uid 10001 --gid ghostless --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin ghostless

# A regular (non-editable) install. The wheel carries templates/ and examples/ as
# plugin/templates and plugin/examples (hatchling force-include in pyproject.toml), so the
# sources are not needed at run time.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY plugin ./plugin
COPY templates ./templates
COPY examples ./examples
RUN pip install --no-cache-dir . && cd / && rm -rf /build

WORKDIR /app
# Default home for the SQLite file, the outbox and the generated secret key when those
# settings are not given. Mount a volume here to keep them.
RUN mkdir -p /app/instance && chown -R ghostless:ghostless /app
ENV GHOSTLESS_INSTANCE_DIR=/app/instance

USER ghostless
EXPOSE 8000

# No HEALTHCHECK here: only `web` serves /healthz. The compose file defines one for web.
ENTRYPOINT ["ghostless"]
CMD ["web", "--bind", "0.0.0.0:8000"]
