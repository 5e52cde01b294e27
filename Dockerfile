# bda-emulator as a container: the built wheel (fixtures and schemas inside), non-root.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY emulator ./emulator
COPY schemas ./schemas
COPY fixtures ./fixtures
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 emulator
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl
USER emulator
# Inside a container the emulator must listen on every interface to be reachable.
ENV BDA_EMULATOR_HOST=0.0.0.0 \
    BDA_EMULATOR_PORT=9527
EXPOSE 9527
HEALTHCHECK --interval=5s --timeout=3s --retries=10 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9527/_emulator/health', timeout=2).status != 200)"]
ENTRYPOINT ["bda-emulator"]
CMD ["serve"]
