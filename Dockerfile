# syntax=docker/dockerfile:1
# The rollback bot's image: the product only (no sandbox extra, no test tools, no compiler).
#   docker build -t rollback-bot .
#   docker run --env-file bot.env -v "$PWD/config/services.yaml:/etc/rollback-bot/services.yaml:ro" \
#     -p 3000:3000 rollback-bot            # serve (the default command); `rollback-bot worker` likewise
# tests/deploy/test_dockerfile.py checks this file's shape with Docker's own parser.

# --- build: the wheel of this repo and of every dependency, made where build tools may live ---------------
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY templates ./templates
RUN pip wheel --wheel-dir /wheels ".[postgres]"

# --- runtime: installs the wheels only (no index, no compiler), runs as an unprivileged user -----------------
FROM python:3.11-slim AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/rollback-bot/bin:$PATH \
    ROLLBACK_BOT_CONFIG=/etc/rollback-bot/services.yaml \
    POSTMORTEM_DIR=/var/lib/rollback-bot/postmortems \
    DATABASE_URL=sqlite:////var/lib/rollback-bot/rollback-bot.db \
    PORT=3000
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/rollback-bot \
    && /opt/rollback-bot/bin/pip install --no-index --find-links /wheels "rollback-bot[postgres]" \
    && rm -rf /opt/rollback-bot/lib/python3.11/site-packages/bot/sandbox \
    && /opt/rollback-bot/bin/pip uninstall -y pip \
    && groupadd --gid 10001 rollback-bot \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/rollback-bot --shell /usr/sbin/nologin rollback-bot \
    && install -d -o 10001 -g 10001 /var/lib/rollback-bot /etc/rollback-bot
WORKDIR /var/lib/rollback-bot
USER 10001:10001
EXPOSE 3000
ENTRYPOINT ["rollback-bot"]
CMD ["serve"]
