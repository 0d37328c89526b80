"""gunicorn settings for a Raspberry Pi (2 cores, SD card, about 1 GB of RAM).

Used by ``run.sh``, ``deploy/vinylvault.service`` and ``deploy/Dockerfile``::

    gunicorn --config gunicorn.conf.py "vinylvault:create_app()"

Environment variables adjust it without editing: ``VINYL_VAULT_BIND``
(default ``0.0.0.0:8080``; ``127.0.0.1:8080`` behind nginx),
``VINYL_VAULT_WORKERS`` (default 2) and, read by the worker class in
``gunicorn_worker.py``, ``VINYL_VAULT_REQUEST_HEAD_TIMEOUT_SECONDS`` (10).
The measurements behind these choices are summarised in ``deploy/README.md``.
"""

import os

# Imported under a name gunicorn does not take for a setting ("config" is one).
from config import load_or_exit as _check_settings

# A bad VINYL_VAULT_* value stops the master here with one line, before any
# worker boots (otherwise every worker would die with a traceback).
_check_settings()

bind = os.environ.get("VINYL_VAULT_BIND", "0.0.0.0:8080")

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
    """Flush the cover cache's batched state before a worker goes away.

    Runs in the worker process on every exit gunicorn controls: SIGTERM,
    SIGINT/SIGQUIT, max_requests recycling. Hits are counted in memory
    between flushes, so without this the LRU would forget the most recent
    uses of every worker that stops.
    """
    app = getattr(worker, "wsgi", None)
    if app is None:  # the app failed to load: nothing was ever cached
        return
    from vinylvault import images

    images.shutdown(app)
