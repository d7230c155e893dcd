# AlignX-Ops, CPU image: `docker build -t alignx .` then `docker run alignx` runs the whole pipeline
# (`make pipeline` = `dvc repro`). The GPU variant is Dockerfile.cuda.
#   docker build --build-arg ALIGNX_GIT_COMMIT=$(git rev-parse HEAD) -t alignx .
#   docker run -v $PWD/mlruns-out:/app/mlartifacts alignx
# Servers bind to loopback; to browse from the host: -e ALIGNX_BIND_HOST=0.0.0.0 -p 5000:5000 ... make ui
FROM python:3.11.14-slim-bookworm

# The commit the image was built from (the context has no .git); MLflow runs are tagged with it.
ARG ALIGNX_GIT_COMMIT=""
ENV ALIGNX_GIT_COMMIT=${ALIGNX_GIT_COMMIT} \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

# git: DVC needs a repository (and `dvc exp run` commits); make: the image's commands are Makefile targets.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git=1:2.39.5-0+deb12u3 make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 alignx
WORKDIR /app
RUN chown alignx:alignx /app
USER 1000:1000

# Dependencies before the source: this layer is rebuilt only when pyproject.toml changes. torch first, from
# its CPU index (an unpinned resolution pulls the multi-GB CUDA build), then every pin of pyproject.toml.
COPY --chown=1000:1000 pyproject.toml ./
RUN python -m venv .venv \
    && .venv/bin/pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['test']))" > /tmp/requirements.txt \
    && .venv/bin/pip install -r /tmp/requirements.txt

COPY --chown=1000:1000 . .
# The project itself through the Makefile's own install (dependencies are already satisfied above), then
# a repository for DVC (the context has no .git).
RUN make install \
    && git init -q \
    && git add -A \
    && git -c user.name=alignx -c user.email=alignx@localhost commit -qm "image build of ${ALIGNX_GIT_COMMIT}"

CMD ["make", "pipeline"]
