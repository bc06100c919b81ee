"""The Celery application.

Tasks are thin: they receive ids, load, call a service, and are safe to run twice.
``PortalTask`` makes that the default shape: late acknowledgement (a task whose worker
dies is delivered again), retries with exponential backoff and jitter, and ``delay`` /
``apply_async`` that enqueue only when the surrounding database transaction commits, so
a worker never sees a task for rows that were rolled back or are not yet visible. Run
in-process (no broker: development, most tests) a failing task fails at once: there is
no backoff to wait for there, so a retry would only repeat it inside the request.
"""

import functools
import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


class PortalTask(DjangoTask):
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (Exception,)
    retry_backoff = 2
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 8

    def apply_async(
        self,
        args=None,
        kwargs=None,
        task_id=None,
        producer=None,
        link=None,
        link_error=None,
        shadow=None,
        **options,
    ):
        """Enqueue after the current transaction commits (at once outside a transaction)."""
        from django.db import connection, transaction

        if connection.in_atomic_block:
            send = functools.partial(
                super().apply_async,
                args,
                kwargs,
                task_id,
                producer,
                link,
                link_error,
                shadow,
                **options,
            )
            # robust: a broker that is down at commit is logged, not raised into a request
            # whose data is already committed; each task with that risk has a sweeper
            # (e.g. pending disclosures) that enqueues what was missed.
            transaction.on_commit(send, robust=True)
            return None
        return super().apply_async(
            args, kwargs, task_id, producer, link, link_error, shadow, **options
        )

    def retry(
        self,
        args=None,
        kwargs=None,
        exc=None,
        throw=True,
        eta=None,
        countdown=None,
        max_retries=None,
        **options,
    ):
        """Retry with backoff on a worker; run in-process (eagerly), fail at once instead.

        Celery runs an eager retry again straight away, ignoring the countdown: a failing
        task would run nine times in a row inside the request that enqueued it, repeating
        its side effects; with eager errors propagating, it raises ``Retry("Retry in 1s")``
        instead of the task's own error, though nothing will ever retry it.
        """
        if self.request.is_eager:
            if exc is not None:
                raise exc
            raise self.MaxRetriesExceededError(f"{self.name} is not retried in-process")
        return super().retry(args, kwargs, exc, throw, eta, countdown, max_retries, **options)


app = Celery("portal", task_cls=PortalTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _pdf_engine_load(**_kwargs: object) -> None:
    """Each worker process loads the PDF engine as it starts, not at its first seal.

    Loading WeasyPrint, Pango and the fonts costs about a second of CPU, which the first
    certificate of authenticity (the first seal) or receipt would otherwise add to its own
    time; the prefork pool's processes and the solo pool both send this signal.
    """
    from portal.pdf import pdf_engine_load

    pdf_engine_load()
