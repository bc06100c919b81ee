"""Scheduled work of the transparency report (run by Celery beat)."""

from celery import shared_task

from requests_app.transparency.rollups import fold


@shared_task(name="requests_app.transparency.tasks.rollups_fold")
def rollups_fold_task() -> int:
    """Fold the requests and rejections changed since the last fold into the rollups."""
    return fold()
