"""Why the database cannot be used, in one line each, for the edge to show as it is.

They carry no driver object and import nothing heavy, so a command line or a log can report
them without a traceback; ``storage.db.database_problem`` turns a driver's exception into one.
"""

from __future__ import annotations


class DatabaseProblem(RuntimeError):
    """The database at ``where`` cannot be used; the message says why and what to do."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        super().__init__(message)


class DatabaseUnavailable(DatabaseProblem):
    """Nothing answers, the server refuses us (wrong database, user or password), or the file
    cannot be opened."""

    def __init__(self, where: str, reason: str) -> None:
        self.reason = reason
        super().__init__(where, f"cannot use the database at {where}: {reason}")


class DatabaseReadOnly(DatabaseProblem):
    def __init__(self, where: str, reason: str) -> None:
        self.reason = reason
        super().__init__(where, f"the database at {where} cannot be written: {reason}")


class SchemaNotMigrated(DatabaseProblem):
    def __init__(self, where: str, current: str | None, needed: str) -> None:
        self.current = current
        self.needed = needed
        at = current or "no schema"
        super().__init__(
            where, f"the database at {where} is not migrated (at {at}, need {needed}): run `qualibot migrate`"
        )
