from django.apps import AppConfig


class RequestsAppConfig(AppConfig):
    name = "requests_app"
    verbose_name = "Legal requests"

    def ready(self) -> None:
        from portal.signals import request_body_refused
        from requests_app.intake.pipeline import body_refused_record

        # The core refuses an oversized intake body before any view: log it as intake does.
        request_body_refused.connect(body_refused_record, dispatch_uid="intake-body-refused")
