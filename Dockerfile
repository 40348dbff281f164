# syntax=docker/dockerfile:1.7
# thinkroute router image: the OpenAI-compatible proxy without torch (hosted providers through LiteLLM,
# self-hosted model servers over HTTP). Build: docker build -t thinkroute:0.1.0 .
# The base is pinned by tag and by the digest of its multi-architecture index; to move it, check the new digest
# with `docker buildx imagetools inspect python:3.11.<patch>-slim-bookworm` and pass --build-arg PYTHON_IMAGE=...

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

# ---- build: resolve and install thinkroute and its dependencies into a self-contained virtualenv
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/thinkroute
WORKDIR /src
COPY pyproject.toml README.md ./
COPY router ./router
COPY classifiers ./classifiers
COPY local_backend ./local_backend
# `pip install .` only: no `local` extra, so no torch/transformers in the router image.
RUN /opt/thinkroute/bin/pip install --upgrade "pip==24.3.1" \
 && /opt/thinkroute/bin/pip install . \
 && /opt/thinkroute/bin/thinkroute --help > /dev/null

# ---- runtime: the virtualenv on a clean slim base, non-root, read-only-root friendly
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
LABEL org.opencontainers.image.title="thinkroute" \
      org.opencontainers.image.description="Budget-aware LLM routing proxy (OpenAI-compatible)" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid ${UID} thinkroute \
 && useradd --system --uid ${UID} --gid ${UID} --home-dir /tmp --no-create-home --shell /usr/sbin/nologin thinkroute \
 && mkdir -p /etc/thinkroute
COPY --from=build /opt/thinkroute /opt/thinkroute
COPY policies/providers.yaml /etc/thinkroute/policy.yaml
ENV PATH=/opt/thinkroute/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    THINKROUTE_POLICY=/etc/thinkroute/policy.yaml
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["thinkroute"]
CMD ["serve", "--policy", "/etc/thinkroute/policy.yaml", "--host", "0.0.0.0", "--port", "8080"]
