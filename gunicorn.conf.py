"""gunicorn settings for a Raspberry Pi (2 cores): see README "Production"."""

import os

bind = os.environ.get("VINYL_VAULT_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("VINYL_VAULT_WORKERS", "2"))
worker_class = "sync"
timeout = 60
graceful_timeout = 20
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
accesslog = None
errorlog = "-"
