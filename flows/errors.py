"""Typed domain errors of the conversation service; each channel maps them to its own idiom."""

from __future__ import annotations


class QualibotError(Exception):
    """Base of every expected failure the service reports."""


class ConversationNotFound(QualibotError):
    def __init__(self, conversation_id: object) -> None:
        self.conversation_id = conversation_id
        super().__init__(f"no conversation {conversation_id}")


class FlowNotFound(QualibotError):
    def __init__(self, flow_id: str, version: int | None = None) -> None:
        self.flow_id = flow_id
        self.version = version
        where = f"{flow_id!r} version {version}" if version is not None else repr(flow_id)
        super().__init__(f"no flow {where}")


class FlowVersionConflict(QualibotError):
    """The same flow id and version was registered with different content: a pinned version must
    never change under the conversations that started on it; bump ``version:`` instead."""

    def __init__(self, flow_id: str, version: int) -> None:
        self.flow_id = flow_id
        self.version = version
        super().__init__(
            f"flow {flow_id!r} version {version} was changed without a version bump; "
            "raise `version:` in the file"
        )


class ConcurrentUpdate(QualibotError):
    """Someone else saved the conversation since it was read; the turn was not saved."""

    def __init__(self, conversation_id: object, expected_version: int) -> None:
        self.conversation_id = conversation_id
        self.expected_version = expected_version
        super().__init__(f"conversation {conversation_id} changed since version {expected_version}")


class InvalidLocale(QualibotError):
    def __init__(self, flow_id: str, locale: str, locales: tuple[str, ...]) -> None:
        self.flow_id = flow_id
        self.locale = locale
        super().__init__(f"flow {flow_id!r} speaks {', '.join(locales)}, not {locale!r}")


class ContinuationInvalid(QualibotError):
    """A continuation token that is unknown, already used or expired."""

    def __init__(self) -> None:
        super().__init__("this link is no longer valid: it was used already or has expired")


class LeadNotFound(QualibotError):
    def __init__(self, lead_id: object) -> None:
        self.lead_id = lead_id
        super().__init__(f"no lead {lead_id}")


class DuplicateInbound(QualibotError):
    """A write carried an idempotency key that an earlier write already claimed; nothing was
    saved (the service answers with the earlier result)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was used already")
