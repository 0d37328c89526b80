"""gunicorn settings for a Raspberry Pi (2 cores, SD card, about 1 GB of RAM).

Used by ``run.sh``, ``deploy/vinylvault.service`` and ``deploy/Dockerfile``::

    gunicorn --config gunicorn.conf.py "vinylvault:create_app()"

The address comes from the ``BIND`` setting (``VINYL_VAULT_BIND``, default
``0.0.0.0:8080``; ``127.0.0.1:8080`` behind nginx), ``VINYL_VAULT_WORKERS``
(default 2) sets the worker count, and the worker class in
``gunicorn_worker.py`` reads ``REQUEST_HEAD_TIMEOUT_SECONDS`` (10). The
measurements behind these choices are summarised in ``deploy/README.md``.

Start-up speaks to the person at the terminal: a busy port is one line
naming the setting, and once the workers are up the last lines say which
address to open and, on a fresh install, that the owner's password comes
next.
"""

import errno
import os
import socket
import sys

# Imported under names gunicorn does not take for settings ("config" is one).
from config import load_or_exit as _check_settings

# The LAN addresses are shared with the kiosk's QR code.
from vinylvault.web.lan import host_port as _host_port
from vinylvault.web.lan import https_urls, site_urls

# A bad VINYL_VAULT_* value stops the master here with one line, before any
# worker boots (otherwise every worker would die with a traceback).
_settings = _check_settings()

bind = _settings.BIND

# One worker per core, each serving one request at a time: measured on the
# same setup, gthread 2x4 raised the median throughput a little but tripled
# p99 (36.8 vs 15.7 ms) and in 3 of 24 runs one worker held every keep-alive
# connection while the other idled; one-at-a-time workers share the two cores
# evenly.
workers = int(os.environ.get("VINYL_VAULT_WORKERS", "2"))
# gunicorn's plain "sync" worker blocks reading a request's head, so a few
# clients sending one header line every few seconds hold both workers and the
# site stops answering (gthread half the time: it waits for the first byte
# only, then a thread blocks on the rest of the head). This sync worker first
# waits (epoll, no thread, no monkey-patching: the cache's flock()s and SQLite
# stay plain blocking calls) until a request's whole head, and a small body,
# has arrived, then serves it exactly as sync does. Requests not complete
# within REQUEST_HEAD_TIMEOUT_SECONDS get a 408. Measured in BENCHMARKS.md
# ("Slow clients").
worker_class = "gunicorn_worker.HeadBufferingWorker"
# Connections still sending their head, per worker (each costs a descriptor
# and a few KiB of kernel buffer); further ones wait in the listen backlog.
worker_connections = 256

# Each worker imports the app itself, after the fork: SQLite connections and
# the cache's background threads must never be shared across a fork.
preload_app = False

# A request that takes longer than this is stuck (a page renders in
# milliseconds; an uncached cover waits at most ON_DEMAND_WAIT_SECONDS).
# deploy/vinylvault.conf's proxy_read_timeout is kept above it, so gunicorn
# times out first and says why in its log.
timeout = 60
# SIGTERM lets in-flight requests finish, then worker_exit below flushes the
# cache's batched hits. systemd's TimeoutStopSec and compose's
# stop_grace_period are kept above this.
graceful_timeout = 20

# Recycle workers now and then so that a slow leak (in a C extension, say)
# cannot grow without bound on a small machine; the jitter keeps the two
# workers from restarting at the same moment. Cache hits go to nginx when it
# is in front, so this is thousands of page views, not seconds.
max_requests = 5000
max_requests_jitter = 500

# The worker heartbeat file is touched every second: keep it in RAM, not on
# the SD card.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# An access log line per cover request wears the SD card and costs CPU;
# nginx keeps one when it is in front. Errors go to stderr (journald, docker).
accesslog = None
errorlog = "-"
proc_name = "vinylvault"
# gunicorn 24+ opens a control socket in ~/.gunicorn by default: nothing here
# uses it, the service's home is read-only under systemd's ProtectSystem, and
# two instances on one machine (tests, benchmarks) would fight over the path.
control_socket_disable = True


def worker_exit(server, worker):
    """Stop the app's background work and flush and close its caches before a worker goes away.

    Runs in the worker process on every exit gunicorn controls: SIGTERM,
    SIGINT/SIGQUIT, max_requests recycling. Hits are counted in memory
    between flushes, so without this the LRU would forget the most recent
    uses of every worker that stops. The order is :mod:`vinylvault.lifecycle`'s.
    """
    app = getattr(worker, "wsgi", None)
    if app is None:  # the app failed to load: nothing was ever cached
        return
    from vinylvault import lifecycle

    lifecycle.shutdown(app)


# --- Start-up messages ----------------------------------------------------------


def on_starting(server):
    """Stop with one line when the address cannot be had, before gunicorn retries it five times.

    Skipped when the sockets are inherited (systemd socket activation, a
    USR2 re-exec): they are already bound, by us.
    """
    if os.environ.get("LISTEN_FDS") or os.environ.get("GUNICORN_FD"):
        return
    for address in server.cfg.address:
        problem = _bind_problem(address[0], address[1]) if isinstance(address, tuple) else None
        if problem:
            print(
                f"vinylvault: {_host_port(address[0], address[1])} {problem}; choose another address with "
                f"VINYL_VAULT_BIND (e.g. VINYL_VAULT_BIND={_host_port(address[0], address[1] % 65535 + 1)}).",
                file=sys.stderr,
            )
            raise SystemExit(2)


#: Why an address cannot be listened on, in words, by errno; other errors are left to gunicorn.
_BIND_PROBLEMS = {
    errno.EADDRINUSE: "is already in use by another program (is VinylVault already running? then stop it)",
    errno.EACCES: "needs administrator rights (ports below 1024 do)",
    errno.EADDRNOTAVAIL: "is not an address of this machine",
}


def _bind_problem(host, port):
    """What stops a listen on ``host:port`` (see ``_BIND_PROBLEMS``), else ``None``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As gunicorn binds: a previous run's connections in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return _BIND_PROBLEMS.get(exc.errno)
    return None


def ready_message(address, needs_password, https_port=0):
    """What to open, and what to do there first: several lines, no trailing newline.

    ``address`` is gunicorn's: ``(host, port)``, or the path of a Unix socket.
    ``https_port``: nginx's HTTPS port (``HTTPS_PORT``), whose addresses are
    listed too, for phones (they install the app and keep it offline only
    over HTTPS).
    """
    if not isinstance(address, tuple):
        return f"VinylVault is ready on unix:{address}: open it through the web server in front of it."
    urls = site_urls(address[0], address[1])
    lines = ["VinylVault is ready. Open it in a browser on this network:", *(f"    {url}" for url in urls)]
    if https_port:
        lines.append(f"Phones, to install it and use it offline (first trust this machine: {urls[0]}/secure):")
        lines.extend(f"    {url}" for url in https_urls(https_port))
    if needs_password:
        lines.append(f"Next: choose the owner's password at {urls[0]}/setup")
    return "\n".join(lines)


def post_worker_init(worker):
    """Print :func:`ready_message` once, when the last worker of the first batch has loaded the app.

    gunicorn's master has no hook after its workers are up (``when_ready``
    runs before they fork, so its lines would sit above every "Booting
    worker"), and workers replaced later (``max_requests``) are older in
    ``age``, so they stay quiet.
    """
    app = worker.wsgi
    if worker.age != worker.cfg.workers or "SETTINGS" not in getattr(app, "config", {}):
        return  # a later worker, or not VinylVault (the benchmarks' bare baseline app)
    from vinylvault import db
    from vinylvault.access import auth

    with app.app_context():
        needs_password = not auth.is_configured(db.get_db())
    message = ready_message(worker.sockets[0].cfg_addr, needs_password, app.config["SETTINGS"].HTTPS_PORT)
    print(message, file=sys.stderr, flush=True)
