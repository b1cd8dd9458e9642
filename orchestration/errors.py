"""The one exception type for problems a user can cause (bad file, bad config, busy warehouse)."""


class CrmWarehouseError(Exception):
    """A user-facing error: its message names the file, line/column and what to do.

    The CLI prints it on one line without a traceback and exits non-zero.
    """


def find_user_error(exc: BaseException | None) -> CrmWarehouseError | None:
    """Walk an exception chain (Dagster wraps step errors) and return the first CrmWarehouseError."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, CrmWarehouseError):
            return exc
        exc = exc.__cause__ or exc.__context__ or getattr(exc, "user_exception", None)
    return None
