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
# Two virtual environments: /opt/venv holds only what serving needs (the base and the [serve]
# extra) and is all the runtime stage copies; /opt/train adds the [train] extra on top of it,
# through a .pth file, just to train the default model at build time. The bundle records the
# scikit-learn that trained it, and both environments use the one in /opt/venv.
RUN python3 -m venv /opt/venv && python3 -m venv /opt/train \
    && /opt/venv/bin/python -c "import sysconfig; print(sysconfig.get_path('purelib'))" \
        > "$(/opt/train/bin/python -c "import sysconfig; print(sysconfig.get_path('purelib'))")/serving.pth"
# Dependencies first, in their own layers: rebuilt only when they change, not the code.
COPY pyproject.toml constraints.txt ./
RUN python3 -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['serve']))" > serve.txt \
    && python3 -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['optional-dependencies']['train']))" > train.txt \
    && /opt/venv/bin/pip install -c constraints.txt -r serve.txt \
    && /opt/train/bin/pip install -c constraints.txt -r train.txt
COPY README.md ./
COPY segmentation ./segmentation
COPY training ./training
COPY service ./service
COPY scoring ./scoring
COPY spark_engine ./spark_engine
COPY data ./data
# The default model, trained on the committed sample; world-readable so any uid can serve it.
# Then the training code and its commands leave the serving environment: the image serves.
RUN /opt/venv/bin/pip install --no-deps . \
    && /opt/train/bin/python -m training --data data/sample_customers.csv --models-dir /opt/models \
    && chmod -R a+rX /opt/models \
    && rm -rf "$(/opt/venv/bin/python -c "import sysconfig; print(sysconfig.get_path('purelib'))")/training" \
        /opt/venv/bin/segment-train /opt/venv/bin/segment-names /opt/venv/bin/segment-sample-data \
    && mkdir /opt/state

FROM ${BASE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="customer-segmentation" \
      org.opencontainers.image.description="Assigns customers to K-Means segments over HTTP."
# SEGMENT_WORKERS=0: one worker process per CPU the container may use (its cgroup v2 CPU limit).
# Nothing is written at run time but the segment history in SEGMENT_STATE_DIR, a volume: the
# root filesystem may be read-only (give /tmp a tmpfs).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SEGMENT_HOST=0.0.0.0 \
    SEGMENT_PORT=8000 \
    SEGMENT_MODELS_DIR=/opt/models \
    SEGMENT_STATE_DIR=/var/lib/segmentation \
    SEGMENT_WORKERS=0 \
    SEGMENT_GRACEFUL_SHUTDOWN_SECONDS=20
COPY --from=build /opt/venv /opt/venv
# The baked model; mount a models folder over /opt/models to serve another one.
COPY --from=build /opt/models /opt/models
# The segment history (a small SQLite file the workers share) outlives the container on this
# volume; owned by the service's user, which a new volume inherits.
COPY --from=build --chown=10001:10001 /opt/state /var/lib/segmentation
VOLUME ["/var/lib/segmentation"]
USER 10001:10001
EXPOSE 8000
# SIGTERM stops accepting connections, lets in-flight requests finish (up to
# SEGMENT_GRACEFUL_SHUTDOWN_SECONDS), then exits 0: give the container that long to stop.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python3", "-m", "service.healthcheck"]
CMD ["segment-serve"]
