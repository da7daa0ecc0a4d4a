# Qualibot in a container: the same install steps as `make install` in the README.
FROM python:3.11-slim

WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY flows ./flows
COPY storage ./storage
COPY handoff ./handoff
COPY bot ./bot
COPY api ./api
COPY qualibot ./qualibot

RUN python -m venv .venv \
    && .venv/bin/python -m pip install --quiet --upgrade pip \
    && .venv/bin/python -m pip install --quiet -e .

ENV PATH=/app/.venv/bin:$PATH \
    QUALIBOT_DATABASE_URL=sqlite+aiosqlite:////data/qualibot.db \
    QUALIBOT_LOG_FORMAT=json
VOLUME ["/data"]

COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["chat", "--flow", "bant", "--locale", "ru"]
