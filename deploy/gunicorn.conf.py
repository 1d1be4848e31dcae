"""gunicorn's settings for fundapp (`gunicorn --config deploy/gunicorn.conf.py wsgi:app`): its own log lines in the
app's format (LOG_FORMAT; JSON in production, see fundapp/logs.py), no access log of its own (the app ends each
request with a line that has its request id, route, status and duration, never the path with a token), and the
bookkeeping of prometheus_client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set (fundapp/metrics.py)."""
import os

from fundapp.logs import default_format

accesslog = None
if (os.environ.get("LOG_FORMAT") or default_format(os.environ.get("FUNDAPP_ENV", "development"))) == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "fundapp.logs.JsonFormatter"}},
        "handlers": {name: {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
                     for name in ("console", "error_console")},  # gunicorn's own names, which its defaults use
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
        },
    }


def child_exit(server, worker):
    """A gunicorn worker ended: prometheus_client drops its live gauges (its counters stay in the sums)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
