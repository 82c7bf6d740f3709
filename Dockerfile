# The image runs the README's main job: `sangrah crawl --all` (live), into $SANGRAH_STORE.
#   docker build -t sangrah:0.1.0 .
#   docker run --rm -e SANGRAH_STORE=s3://bucket/prefix -e AWS_ACCESS_KEY_ID=... sangrah:0.1.0
#   docker run --rm sangrah:0.1.0 crawl ndtv --since 2025-05-01     (any other command)
# Checked without an engine by tests/test_deploy_files.py (hadolint, the files it copies), and
# built and run (the main job, offline) by deploy/check-image on a debootstrap stand-in base.

# --- build: the package and its dependencies in a venv ---------------------------------------
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
# All runtime dependencies publish manylinux wheels: no compiler or -dev packages are needed.
COPY pyproject.toml setup.py scrapy.cfg ./
COPY archive ./archive
COPY crawler ./crawler
COPY pipelines ./pipelines
RUN python -m venv /opt/sangrah \
    && /opt/sangrah/bin/pip install --no-cache-dir .

# --- run ---------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
# A fixed uid, so a volume (spool, local store) keeps its owner across image versions.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/sangrah --create-home sangrah
COPY --from=build /opt/sangrah /opt/sangrah
ENV PATH=/opt/sangrah/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SANGRAH_STORE=/var/lib/sangrah/archive-data \
    SANGRAH_SPOOL_DIR=/var/lib/sangrah/spool
WORKDIR /var/lib/sangrah
USER 10001
ENTRYPOINT ["sangrah"]
CMD ["crawl", "--all"]
