# Qualibot in a container: the install steps of the README ("Docker"): a virtualenv, pip,
# the dependencies of pyproject.toml, then Qualibot itself as a package. The dependencies get a
# layer of their own, rebuilt only when pyproject.toml changes; Qualibot is installed from its
# wheel, not editable (its migrations are in the wheel too), and runs as an unprivileged user.

# The wheel, built from the source tree; only the wheel leaves this stage.
FROM python:3.11-slim AS wheel
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY alembic ./alembic
COPY flows ./flows
COPY storage ./storage
COPY handoff ./handoff
COPY bot ./bot
COPY api ./api
COPY qualibot ./qualibot
RUN python -m pip wheel --quiet --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The dependencies, read from pyproject.toml alone.
COPY pyproject.toml /tmp/pyproject.toml
RUN python -m venv /opt/qualibot \
    && /opt/qualibot/bin/python -m pip install --quiet --upgrade pip \
    && /opt/qualibot/bin/python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && /opt/qualibot/bin/python -m pip install --quiet -r /tmp/requirements.txt \
    && rm /tmp/pyproject.toml /tmp/requirements.txt

# Qualibot itself.
COPY --from=wheel /wheels /tmp/wheels
RUN /opt/qualibot/bin/python -m pip install --quiet --no-deps /tmp/wheels/*.whl \
    && rm -r /tmp/wheels

RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home qualibot \
    && mkdir /data \
    && chown qualibot:qualibot /data
USER qualibot
WORKDIR /data

ENV PATH=/opt/qualibot/bin:$PATH \
    QUALIBOT_DATABASE_URL=sqlite+aiosqlite:////data/qualibot.db \
    QUALIBOT_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8000

COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
