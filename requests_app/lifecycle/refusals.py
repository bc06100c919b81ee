"""The one refusal the officer's side raises, carrying the problem code the API answers."""

STATUS_OF_CODE = {"malformed": 400, "forbidden": 403, "invalid_state": 409}


class OfficerRefused(Exception):
    """An officer's action that the rules do not allow; the message says why.

    ``code`` is the stable problem code of PROTOCOL §5 style: ``malformed`` (nothing to
    act on), ``forbidden`` (the officer reads the request but may not do this) or
    ``invalid_state`` (the request's state does not allow it, e.g. withdrawn twice).
    """

    def __init__(self, message: str, *, code: str = "invalid_state") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def status(self) -> int:
        return STATUS_OF_CODE[self.code]
