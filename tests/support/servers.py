"""Real servers for tests and benchmarks: gunicorn running the app, nginx in front.

Both run as subprocesses on 127.0.0.1 with everything they write kept under a
work directory, so tests can run them side by side and leave nothing behind::

    with GunicornServer(data_dir, log_path=tmp / "gunicorn.log") as app:
        with NginxServer(tmp / "nginx", upstream_port=app.port,
                         covers_dir=..., static_dir=...) as web:
            urllib.request.urlopen(web.url("/cache/thumbnails/<key>.webp"))

:class:`NginxServer` runs the shipped site file ``deploy/vinylvault.conf``
itself, with only its paths and ports substituted, so the tests check what a
Pi actually installs; its HTTPS port uses a LAN certificate that
``deploy/lan_tls.py`` makes in the work directory (naming 127.0.0.1 too).
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Mapping

from tests.support.paths import ROOT

NGINX_SITE = ROOT / "deploy" / "vinylvault.conf"
LAN_TLS = ROOT / "deploy" / "lan_tls.py"
NGINX_BINARY = "/usr/sbin/nginx"

#: What deploy/vinylvault.conf says, and what tests put in its place.
SITE_STATIC_DIR = "/opt/vinylvault/vinylvault/static/"
SITE_COVERS_DIR = "/var/cache/vinylvault/covers"
SITE_UPSTREAM = "server 127.0.0.1:8080;"
SITE_LISTEN = ("listen 80 default_server;", "listen [::]:80 default_server;")
SITE_LISTEN_TLS = ("listen 443 ssl http2 default_server;", "listen [::]:443 ssl http2 default_server;")
SITE_TLS_DIR = "/etc/vinylvault/tls/"


class ServerFailed(RuntimeError):
    """A server subprocess exited or never answered; the message holds its log tail."""


def app_environment(data_dir: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ without stray ``VINYL_VAULT_*`` settings, plus ``env`` and the data directory."""
    result = {k: v for k, v in os.environ.items() if not k.startswith("VINYL_VAULT_")}
    result.update(env or {})
    result["VINYL_VAULT_DATA_DIR"] = str(data_dir)
    return result


def flask_cli(
    data_dir: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: str = "",
    check: bool = False,
    timeout: float = 600.0,
) -> subprocess.CompletedProcess:
    """``flask --app vinylvault <args>`` on ``data_dir`` in its own process, as the owner runs it.

    ``check`` raises :class:`ServerFailed` with its output when the command fails.
    """
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "vinylvault", *args],
        cwd=ROOT,
        env=app_environment(data_dir, env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise ServerFailed(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def wait_until_listening(port: int, process: subprocess.Popen, log_path: Path, timeout: float = 30.0) -> None:
    """Block until something accepts TCP connections on ``port``.

    Raises :class:`ServerFailed` when ``process`` exits first or ``timeout``
    passes, with the end of its log, so a broken config fails with its cause.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"exited with {process.returncode}:\n{_log_tail(log_path)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerFailed(f"not listening on {port} after {timeout} s:\n{_log_tail(log_path)}")


def http_get(
    url: str, headers: Mapping[str, str] | None = None, timeout: float = 10.0, context: ssl.SSLContext | None = None
) -> tuple[int, dict[str, str], bytes]:
    """GET ``url`` without following redirects: (status, headers, body); 4xx/5xx are answers too.

    ``context`` verifies an ``https://`` server (the LAN authority's, say).
    """
    request = urllib.request.Request(url, headers=dict(headers or {}))
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers.items()), error.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class _Subprocess:
    """Start on enter, stop on exit; subclasses say how to start and stop."""

    process: subprocess.Popen | None = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Send ``sig`` and wait for the exit; SIGKILL after ``timeout``. Returns the exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode


class GunicornServer(_Subprocess):
    """The app under gunicorn with the project's gunicorn.conf.py, on 127.0.0.1.

    ``env`` adds ``VINYL_VAULT_*`` settings (the data directory is always
    ``data_dir``); the bind address and worker count override the config
    file's through the same variables a Pi uses. ``app`` is gunicorn's app
    argument (benchmarks run a bare baseline app the same way).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        log_path: Path,
        workers: int = 2,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        app: str = "vinylvault:create_app()",
    ) -> None:
        self.app = app
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.workers = workers
        self.extra_env = dict(env or {})
        self.port = port or free_port()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> None:
        env = app_environment(self.data_dir, self.extra_env)
        env.update(
            {
                "VINYL_VAULT_BIND": f"127.0.0.1:{self.port}",
                "VINYL_VAULT_WORKERS": str(self.workers),
            }
        )
        self.log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"), self.app],
            cwd=ROOT,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_listening(self.port, self.process, self.log_path)
            self._wait_for_workers()
        except ServerFailed:
            self.stop()
            raise

    def _wait_for_workers(self, timeout: float = 30.0) -> None:
        # The master listens before it forks: wait until every worker exists
        # and one has loaded the app and answered.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"exited with {self.process.returncode}:\n{_log_tail(self.log_path)}")
            if len(self.worker_pids()) == self.workers:
                try:
                    http_get(self.url("/"), timeout=timeout)
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        raise ServerFailed(f"workers not ready after {timeout} s:\n{_log_tail(self.log_path)}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        code = super().stop(sig, timeout)
        if getattr(self, "log_file", None) is not None:
            self.log_file.close()
            self.log_file = None
        return code

    def worker_pids(self) -> list[int]:
        """Pids of the master's worker processes, from /proc."""
        master = self.process.pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return [int(pid) for pid in children]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def make_lan_tls(folder: Path) -> Path:
    """Run ``deploy/lan_tls.py`` into ``folder``, adding 127.0.0.1 to the names: the folder."""
    result = subprocess.run(
        [sys.executable, str(LAN_TLS), "--dir", str(folder), "--name", "127.0.0.1"], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise ServerFailed(f"{LAN_TLS} failed: {result.stderr.strip()}")
    return folder


def render_nginx_site(
    *, port: int, https_port: int, upstream_port: int, covers_dir: Path, static_dir: Path, tls_dir: Path
) -> str:
    """deploy/vinylvault.conf with its paths and ports replaced for a test run.

    Fails loudly when the shipped file no longer contains what is replaced,
    so the tests can never silently check a stale copy.
    """
    site = NGINX_SITE.read_text()
    replacements = [
        (SITE_UPSTREAM, f"server 127.0.0.1:{upstream_port};"),
        (SITE_LISTEN[0], f"listen 127.0.0.1:{port};"),
        (SITE_LISTEN[1], ""),
        (SITE_LISTEN_TLS[0], f"listen 127.0.0.1:{https_port} ssl http2;"),
        (SITE_LISTEN_TLS[1], ""),
        (SITE_TLS_DIR, f"{Path(tls_dir)}/"),
        (SITE_STATIC_DIR, f"{Path(static_dir)}/"),
        (SITE_COVERS_DIR, str(Path(covers_dir))),
    ]
    for old, new in replacements:
        if old not in site:
            raise ServerFailed(f"{NGINX_SITE} no longer contains {old!r}")
        site = site.replace(old, new)
    return site


class NginxServer(_Subprocess):
    """nginx in the foreground serving deploy/vinylvault.conf from a work directory, HTTP and HTTPS.

    ``tls_dir`` holds the LAN certificate (``deploy/lan_tls.py``'s files);
    without one, one is made in the work directory.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        upstream_port: int,
        covers_dir: Path,
        static_dir: Path,
        worker_processes: int = 1,
        port: int | None = None,
        https_port: int | None = None,
        tls_dir: Path | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.upstream_port = upstream_port
        self.covers_dir = Path(covers_dir)
        self.static_dir = Path(static_dir)
        self.worker_processes = worker_processes
        self.port = port or free_port()
        self.https_port = https_port or free_port()
        self.tls_dir = Path(tls_dir) if tls_dir else self.workdir / "tls"
        self.log_path = self.workdir / "error.log"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def https_url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.https_port}{path}"

    def config_text(self) -> str:
        """A complete nginx.conf around the site, writing only under ``workdir``."""
        temp = self.workdir / "temp"
        temp_paths = "\n".join(
            f"    {kind}_temp_path {temp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # As root, nginx's workers would drop to "nobody", who cannot read a
        # pytest tmp_path (mode 0700).
        user = "user root root;\n" if os.geteuid() == 0 else ""
        site = render_nginx_site(
            port=self.port,
            https_port=self.https_port,
            upstream_port=self.upstream_port,
            covers_dir=self.covers_dir,
            static_dir=self.static_dir,
            tls_dir=self.tls_dir,
        )
        return (
            f"{user}worker_processes {self.worker_processes};\n"
            f"pid {self.workdir / 'nginx.pid'};\n"
            f"error_log {self.log_path} warn;\n"
            "events { worker_connections 512; }\n"
            "http {\n"
            "    include /etc/nginx/mime.types;\n"
            "    default_type application/octet-stream;\n"
            "    sendfile on;\n"
            "    access_log off;\n"
            f"{temp_paths}\n"
            f"{site}\n"
            "}\n"
        )

    def start(self) -> None:
        (self.workdir / "temp").mkdir(parents=True, exist_ok=True)
        if not (self.tls_dir / "server.crt").exists():
            make_lan_tls(self.tls_dir)
        conf = self.workdir / "nginx.conf"
        conf.write_text(self.config_text())
        self.process = subprocess.Popen(
            [NGINX_BINARY, "-p", str(self.workdir), "-c", str(conf), "-e", str(self.log_path), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_listening(self.port, self.process, self.log_path)
        except ServerFailed:
            self.stop()
            raise

    def stop(self, sig: int = signal.SIGQUIT, timeout: float = 10.0) -> int | None:
        """SIGQUIT is nginx's graceful shutdown."""
        return super().stop(sig, timeout)
