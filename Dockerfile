# Tell-It-Once Hub: one image for every hub process (`hub init`, `hub run api`, `hub run worker`).
#   docker build -t tell-it-once-hub .
#   docker run --rm tell-it-once-hub --help
# docker-compose.yml builds it and runs the production-shaped stack (see docs/deployment.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Build from a scratch directory and install non-editable into site-packages, then drop the
# sources: nothing at run time may import the hub from a source tree. requirements.lock pins every
# runtime package to the version the tests passed with (the same lock `make demo` installs from).
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY hub ./hub
COPY agents ./agents
COPY connectors ./connectors
COPY runtime ./runtime
RUN pip install --no-cache-dir -c requirements.lock . \
    && cd / && rm -rf /src

# hub/settings.py looks for config/ and schemas/ beside the installed `hub` package, which for a
# non-editable install is site-packages; so they live in /app and the settings point there.
# To change systems or agreements without rebuilding, mount a directory over /app/config.
WORKDIR /app
COPY config ./config
COPY schemas ./schemas

RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin hub \
    && mkdir -p /app/data \
    && chown hub:hub /app/data

ENV HUB_CONFIG_DIR=/app/config \
    HUB_SCHEMA_DIR=/app/schemas/avro \
    HUB_DATA_DIR=/app/data \
    HUB_API_HOST=0.0.0.0 \
    HUB_API_PORT=8080

USER hub
EXPOSE 8080

ENTRYPOINT ["hub"]
CMD ["api"]
