"""Map the worker's JSON errors ({"error": {"code", "message"}}) to Python exceptions."""
import errno

__all__ = ["AlluxioInvalidPathError", "UfsUnavailableError", "UfsVersionMismatchError", "WorkersUnavailableError", "error_from_response"]


class AlluxioInvalidPathError(ValueError):
    """The path or URI was refused by the resolver (dot segments, encoded '/', ...)."""


class WorkersUnavailableError(ConnectionError):
    """No worker could serve the request (all refused, timed out or were unavailable)."""


class UfsUnavailableError(WorkersUnavailableError):
    """The workers answer, but the under file system behind them does not (every worker
    tried said UfsUnavailable): the UFS is down or unreachable from the workers, not the
    workers. A WorkersUnavailableError still, so ``ufs_fallback`` reads the UFS directly."""

    code = "UfsUnavailable"


class UfsVersionMismatchError(OSError):
    """The UFS fallback found another version of the file than the workers described when
    it was opened (size, ETag or mtime differ): its bytes are not mixed in. ``errno`` is
    ESTALE, ``code`` "VersionMismatch"; open the file again."""

    code = "VersionMismatch"
    status = None


def _with(exc, code, status):
    exc.code = code
    exc.status = status
    return exc


def error_from_response(status: int, body: bytes, path: str):
    """An exception for a non-2xx response of the REST API."""
    code, message = "Unknown", ""
    try:
        import json

        doc = json.loads(body.decode("utf-8"))
        err = doc.get("error") or {}
        code = str(err.get("code") or code)
        message = str(err.get("message") or "")
    except Exception:  # not JSON: keep the raw text
        message = body[:500].decode("utf-8", "replace")
    text = f"{message} [{code}]" if message else f"{code} (HTTP {status}) for {path}"
    if status == 404:
        return _with(FileNotFoundError(errno.ENOENT, text, path), code, status)
    # unsigned, unknown key, wrong secret (SigV4), forbidden, or a signature for another service
    if status in (401, 403) or code in ("AuthorizationHeaderMalformed", "AuthorizationQueryParametersError"):
        return _with(PermissionError(errno.EACCES, text, path), code, status)
    if code == "IsADirectory":
        return _with(IsADirectoryError(errno.EISDIR, text, path), code, status)
    if code == "NotADirectory":
        return _with(NotADirectoryError(errno.ENOTDIR, text, path), code, status)
    if code == "DirectoryNotEmpty":
        return _with(OSError(errno.ENOTEMPTY, text, path), code, status)
    if status == 400:
        return _with(AlluxioInvalidPathError(text), code, status)
    if status == 503:
        return _with(WorkersUnavailableError(errno.EAGAIN, text), code, status)
    return _with(OSError(errno.EIO, text, path), code, status)
