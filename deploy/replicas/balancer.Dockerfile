# The balancer of docker-compose.yml's `replicas` profile: Debian's nginx, round-robin over the
# emulator replicas (nginx.conf), on the same BASE_IMAGE as the emulator's Dockerfile
# (python:3.11-slim by default, or any Debian-style image: the end-to-end test passes its
# debootstrap-made bookworm), so nothing comes from Docker Hub but that base.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
# policy-rc.d: the package's maintainer scripts must not start a server inside the build.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d \
    && apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d /etc/nginx/sites-enabled/*
COPY nginx.conf /etc/nginx/bda-balancer.conf
# Non-root: nginx.conf listens on unprivileged ports and keeps its pid and buffers in /tmp.
USER www-data
EXPOSE 9528
# -e stderr: no attempt to open /var/log/nginx/error.log (root's) before the config is read.
CMD ["nginx", "-e", "stderr", "-c", "/etc/nginx/bda-balancer.conf", "-g", "daemon off;"]
