"""The handoff's expected failures; every channel maps them in its one error mapping."""

from __future__ import annotations

from flows.errors import QualibotError


class EndpointNotFound(QualibotError):
    def __init__(self, endpoint_id: object) -> None:
        self.endpoint_id = endpoint_id
        super().__init__(f"no webhook endpoint {endpoint_id}")


class DeliveryNotFound(QualibotError):
    def __init__(self, delivery_id: object) -> None:
        self.delivery_id = delivery_id
        super().__init__(f"no delivery {delivery_id}")


class InvalidInput(QualibotError):
    """A webhook URL, event list, stage map, cursor or time range that cannot be accepted, and why."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class InvalidApiKey(QualibotError):
    """No key, an unknown or revoked key, or a wrong secret: all look the same to the caller."""

    def __init__(self) -> None:
        super().__init__("a valid admin API key is needed: Authorization: Bearer <key>")
