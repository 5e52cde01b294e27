# bda-emulator as a container: the built wheel (fixtures and schemas inside) in a virtual
# environment, non-root. BASE_IMAGE is any Debian-style image with python3 (3.11+) and its venv
# module: python:3.11-slim by default; the end-to-end test passes a debootstrap-made Debian
# bookworm with python3-venv (tests/docker/base-image.sh), as its CI has no Docker Hub.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml ./
# The build backend and the runtime dependencies, read from pyproject.toml, installed in layers
# of their own that survive code changes (a code change rebuilds in seconds).
RUN python3 -c "import tomllib; meta = tomllib.load(open('pyproject.toml', 'rb')); \
print(*meta['build-system']['requires'], sep='\n', file=open('/build-requirements.txt', 'w')); \
print(*meta['project']['dependencies'], sep='\n', file=open('/requirements.txt', 'w'))" \
    && python3 -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir -r /build-requirements.txt
COPY README.md ./
COPY emulator ./emulator
COPY schemas ./schemas
COPY fixtures ./fixtures
RUN /opt/build/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /dist .

FROM ${BASE_IMAGE}
# /var/lib/bda-emulator/tls: where docker-compose.yml keeps the local CA (BDA_EMULATOR_TLS_DIR).
# Made here, owned by the emulator user, so a new named volume mounted on it starts with that
# owner (the engine copies the image's directory into an empty volume) and uid 10001 can write.
RUN useradd --create-home --uid 10001 emulator \
    && install -d -o emulator -g emulator -m 0755 /var/lib/bda-emulator/tls
COPY --from=build /requirements.txt /tmp/
RUN python3 -m venv /opt/bda-emulator \
    && /opt/bda-emulator/bin/pip install --no-cache-dir -r /tmp/requirements.txt
COPY --from=build /dist/*.whl /tmp/
RUN /opt/bda-emulator/bin/pip install --no-cache-dir --no-deps /tmp/*.whl && rm /tmp/*.whl
USER emulator
# Inside a container the emulator must listen on every interface to be reachable.
# PATH puts the environment's bda-emulator and python first (the health checks run `python`).
ENV PATH=/opt/bda-emulator/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    BDA_EMULATOR_HOST=0.0.0.0 \
    BDA_EMULATOR_PORT=9527
# 9527: plain HTTP (the API and /_emulator); 443: HTTPS on the production host names, when
# BDA_EMULATOR_TLS_PORT=443 (docker-compose.yml; non-root binds it thanks to its sysctl).
EXPOSE 9527 443
HEALTHCHECK --interval=5s --timeout=3s --retries=10 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9527/_emulator/health', timeout=2).status != 200)"]
ENTRYPOINT ["bda-emulator"]
CMD ["serve"]
