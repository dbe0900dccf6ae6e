# Customer segmentation service. Build: docker build -t customer-segmentation .
# The base is an argument so the same file builds on a locally made image where no registry is
# reachable: --build-arg BASE_IMAGE=<local python 3.11+ image> (deploy/base-image.sh makes one).
# Only `python3` is used, so the interpreter may live in /usr/local/bin (official images) or in
# /usr/bin (Debian's); both stages use the same base, so the venv's interpreter link holds.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependencies first, in their own layer: it is rebuilt only when they change, not the code.
COPY pyproject.toml constraints.txt ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install -c constraints.txt -r requirements.txt
COPY README.md ./
COPY segmentation ./segmentation
COPY training ./training
COPY service ./service
COPY scoring ./scoring
COPY data ./data
# The default model, trained on the committed sample; world-readable so any uid can serve it.
RUN pip install --no-deps . \
    && segment-train --data data/sample_customers.csv --models-dir /opt/models \
    && chmod -R a+rX /opt/models

FROM ${BASE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="customer-segmentation" \
      org.opencontainers.image.description="Assigns customers to K-Means segments over HTTP."
# SEGMENT_WORKERS=0: one worker process per CPU the container may use (its cgroup v2 CPU limit).
# Nothing is written at run time: the root filesystem may be read-only (give /tmp a tmpfs).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SEGMENT_HOST=0.0.0.0 \
    SEGMENT_PORT=8000 \
    SEGMENT_MODELS_DIR=/opt/models \
    SEGMENT_WORKERS=0 \
    SEGMENT_GRACEFUL_SHUTDOWN_SECONDS=20
COPY --from=build /opt/venv /opt/venv
# The baked model; mount a models folder over /opt/models to serve another one.
COPY --from=build /opt/models /opt/models
USER 10001:10001
EXPOSE 8000
# SIGTERM stops accepting connections, lets in-flight requests finish (up to
# SEGMENT_GRACEFUL_SHUTDOWN_SECONDS), then exits 0: give the container that long to stop.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python3", "-m", "service.healthcheck"]
CMD ["segment-serve"]
