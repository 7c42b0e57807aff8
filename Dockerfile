# The project, installed from uv.lock on a slim Python, run as a user that is not root: the image the docker
# work pool's flow runs start from (deployments/prefect.docker.yaml); the webhook receiver runs from it too.
#
#   docker build -t prefect-spotdraft .
#
# Neither built nor run by this repository's tests: the machines they run on have no Docker daemon. What the
# tests check is that the paths below are the ones deployments/prefect.docker.yaml uses.
ARG UV_VERSION=0.13.9
FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

FROM python:3.11-slim

COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1

# The user the flows run as; the default database (~/.local/share/spotdraft/spotdraft.db) is in its home, made
# here so that a volume mounted there is writable by it.
RUN useradd --create-home --uid 10001 spotdraft \
    && mkdir -p /home/spotdraft/.local/share/spotdraft \
    && chown -R spotdraft:spotdraft /home/spotdraft/.local

WORKDIR /opt/prefect-spotdraft
# The locked dependencies first, in a layer of their own (rebuilt only when uv.lock changes), then the project.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev \
    && .venv/bin/python -m compileall -q blocks client deployments flows store tasks webhooks

ENV PATH="/opt/prefect-spotdraft/.venv/bin:$PATH"
USER spotdraft
