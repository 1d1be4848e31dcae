"""gunicorn's settings for fundapp (`gunicorn --config deploy/gunicorn.conf.py wsgi:app`): its own log lines in the
app's format (LOG_FORMAT; JSON in production, see fundapp/logs.py), and no access log of its own: the app ends
each request with a line that has its request id, route, status and duration, never the path with a token."""
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
