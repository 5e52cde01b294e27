# Redis for docker-compose.yml's `replicas` profile: the state the emulator replicas share.
# Debian's redis-server on the same BASE_IMAGE as the emulator's Dockerfile (python:3.11-slim by
# default, or any Debian-style image: the end-to-end test passes its debootstrap-made bookworm),
# so nothing comes from Docker Hub but that base.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
# policy-rc.d: the package's maintainer scripts must not start a server inside the build.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d \
    && apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive \
       apt-get install -y -q --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d
# The package's own unprivileged user (made by its maintainer scripts).
USER redis
WORKDIR /var/lib/redis
EXPOSE 6379
# No persistence (no RDB snapshot, no append-only file): the emulator's state is test state and
# goes with the container. Protected mode is off because there is no password: this Redis
# listens on the Compose network only (docker-compose.yml publishes no port for it).
CMD ["redis-server", "--bind", "0.0.0.0", "--port", "6379", "--protected-mode", "no", \
     "--save", "", "--appendonly", "no", "--logfile", ""]
