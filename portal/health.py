"""Report whether the portal's services answer: the database and the Celery broker."""

from typing import Any

from django.conf import settings
from django.db import connection
from kombu import Connection


def database_status() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure is reported, not raised
        return {"ok": False, "vendor": connection.vendor, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor}


def broker_status() -> dict[str, Any]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "eager", "detail": "no broker: tasks run in-process"}
    timeout = settings.HEALTHZ_BROKER_TIMEOUT
    broker = Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=timeout,
        transport_options={
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
            "max_retries": 0,
        },
    )
    try:
        broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
    except Exception as exc:  # any failure is reported, not raised
        return {"ok": False, "mode": broker.transport_cls, "error": type(exc).__name__}
    finally:
        broker.release()
    return {"ok": True, "mode": broker.transport_cls}


def health_report() -> tuple[bool, dict[str, Any]]:
    report = {"database": database_status(), "broker": broker_status()}
    healthy = all(part["ok"] for part in report.values())
    return healthy, {"status": "ok" if healthy else "unavailable", **report}
