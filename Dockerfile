# syntax=docker/dockerfile:1
# Mode Interpolation Lab: CPU-only image (engineering.md §7).
#   docker build -t modelab .                                  # torch from the PyTorch CPU index
#   docker build --build-context wheels=/opt/wheels -t modelab .   # offline, from a local torch-*.whl
#   docker run -p 8000:8000 -v modelab-data:/data modelab
#   docker run -p 8000:8000 -e MODELAB_TOKEN=<secret> modelab   # README "Deploying": 0.0.0.0 reaches everyone
ARG PYTHON_VERSION=3.11

# Empty unless the build passes --build-context wheels=<dir containing torch-*.whl>.
FROM scratch AS wheels

FROM python:${PYTHON_VERSION}-slim AS runtime
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
WORKDIR /app
# torch first, the pinned CPU build (a local wheel if given, else the CPU index; never PyPI's CUDA build), so that
# `pip install .` below finds `torch>=2.13,<2.15` satisfied and downloads no other torch.
RUN --mount=type=bind,from=wheels,target=/wheels \
    if [ -n "$(find /wheels -name 'torch-*.whl' -print -quit)" ]; then \
      pip install --no-index --find-links /wheels "torch==${TORCH_VERSION}+cpu"; \
    else \
      pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}+cpu"; \
    fi \
    && python -c "import torch; assert torch.version.cuda is None, torch.__version__"
COPY pyproject.toml README.md ./
COPY server ./server
COPY templates ./templates
COPY static ./static
COPY models ./models
RUN pip install . \
    && useradd --create-home --uid 10001 app \
    && mkdir -p /data && chown app /data
USER 10001
# Absolute asset paths: the server package is also installed in site-packages, whose parent has no templates/.
ENV MODELAB_DATA_DIR=/data MODELAB_TEMPLATES_DIR=/app/templates MODELAB_STATIC_DIR=/app/static \
    MODELAB_MODELS_DIR=/app/models NUMBA_CACHE_DIR=/tmp/numba-cache
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["uvicorn", "server.app:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "1", "--timeout-graceful-shutdown", "10"]
