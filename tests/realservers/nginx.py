"""A real nginx on 127.0.0.1, round-robin over emulator ports (the configuration is explained in
the package's docstring)."""

from __future__ import annotations

import re
import shutil
import signal
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from emulator.testing import free_port, wait_healthy
from tests.realservers.components import LOOPBACK, NGINX, START_TIMEOUT, require
from tests.realservers.process import Process, private_dir

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log notice;
events {{ worker_connections 512; }}
http {{
    log_format upstream '$remote_addr "$request" $status $upstream_addr';
    access_log {dir}/access.log upstream;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 0;
    large_client_header_buffers 4 64k;
    keepalive_timeout 30s;
    upstream bda {{
{servers}
        keepalive 8;
        keepalive_timeout 10s;
    }}
    server {{
        listen {host}:{port};
        location / {{
            proxy_pass http://bda;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


#: A line of the access log (``log_format upstream`` above).
ACCESS_LINE = re.compile(r'^\S+ "(?P<method>\S+) (?P<path>\S+)[^"]*" (?P<status>\d+) '
                         r'(?P<upstream>\S+)')


class Nginx:
    """nginx on a free 127.0.0.1 port, round-robin over ``upstreams`` (ports on 127.0.0.1)."""

    def __init__(self, upstreams: Sequence[int], workdir: Path | None = None) -> None:
        self._own_dir = workdir is None
        self.workdir = workdir or private_dir("bda-nginx-")
        self.port = free_port(LOOPBACK)
        self.upstreams = list(upstreams)
        conf = self.workdir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(
            dir=self.workdir, host=LOOPBACK, port=self.port,
            servers="\n".join(f"        server {LOOPBACK}:{p};" for p in self.upstreams)))
        require("balancer")
        self.process = Process("nginx", [NGINX, "-p", self.workdir, "-c", conf,
                                         "-e", self.workdir / "error.log"],
                               self.workdir / "nginx.out")

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def start(self) -> Nginx:
        """Start and wait until it proxies ``/_emulator/health`` (stopped again if not)."""
        self.process.spawn()
        try:
            wait_healthy(self.url, timeout=START_TIMEOUT, alive=self.process.proc)
        except BaseException as exc:
            self.process.stop()
            if not isinstance(exc, AssertionError):
                raise
            raise AssertionError(f"nginx: {exc}\n{self.error_log()[-2000:]}"
                                 f"{self.process.log()[-2000:]}") from None
        return self

    def stop(self) -> None:
        self.process.stop(signal.SIGQUIT)  # graceful: the master waits for its workers
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def error_log(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def upstreams_used(self, method: str = "", path_prefix: str = "/") -> Counter[str]:
        """How many requests (of ``method``, all if empty, to paths starting with
        ``path_prefix``) each upstream answered, by ``host:port``, from the access log."""
        path = self.workdir / "access.log"
        used: Counter[str] = Counter()
        for line in path.read_text().splitlines() if path.exists() else ():
            found = ACCESS_LINE.match(line)
            if found and found["path"].startswith(path_prefix) and \
                    found["method"] == (method or found["method"]):
                used[found["upstream"]] += 1
        return used
