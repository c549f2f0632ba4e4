"""What the client remembers about files, and the UFS fallback (docs/alluxiofs.md).

``Hints``: the last ``info`` of each path (resolved UFS URI, size, ETag, mtime), kept a
short while. Reads use the UFS URI to send a read to the file's owner (the key of
docs/cluster-cache.md); a stale hint only costs one hop, since any worker serves any path.
The fallback uses it to read the very file the workers resolved, and to check the version.

``UfsFallback``: with ``ufs_fallback=True``, when every worker failed for a read, the bytes
come from the UFS itself through fsspec (``fsspec.filesystem(scheme, **options)``), after
checking that the UFS still holds the version the workers described (size; ETag when the UFS
gives one; mtime for local files), so a read never mixes two versions. file:// works with
fsspec alone; other schemes need their fsspec implementation installed (s3fs for s3://).
"""
import errno
import threading
import time
from collections import OrderedDict

from .errors import UfsVersionMismatchError, WorkersUnavailableError

__all__ = ["Hints", "UfsFallback", "check_served", "file_meta"]

# fsspec protocols of one family: target_options given for one apply to the others
_FAMILIES = ({"s3", "s3a", "s3n"}, {"gs", "gcs"}, {"file", "local"})


def file_meta(entry):
    """The hint of an info entry of a file: its resolved UFS URI, size, ETag and mtime (None
    for directories and answers without a resolution)."""
    resolved = entry.get("resolved") or {}
    ufs_uri = resolved.get("ufsUri")
    if entry.get("type") != "file" or not ufs_uri:
        return None
    return {"ufsUri": ufs_uri, "size": int(entry.get("size") or 0), "etag": entry.get("etag"), "mtime": float(entry.get("mtime") or 0.0)}


def check_served(meta, headers, uri):
    """Raise UfsVersionMismatchError when a worker's answer to a read of an open file
    (``meta``: its info at open) is of another version (ETag header, x-alluxio-size): a
    read continued on another worker, or after the file was replaced, never mixes bytes."""
    if meta is None or headers is None:
        return
    etag, size = _strip_quotes(headers.get("etag")), headers.get("x-alluxio-size")
    want = _strip_quotes(meta.get("etag"))
    why = None
    if etag and want and etag != want:
        why = f"ETag {etag}, {want} when opened"
    elif size is not None and str(size).isdigit() and int(size) != meta["size"]:
        why = f"size {size}, {meta['size']} when opened"
    if why:
        raise UfsVersionMismatchError(errno.ESTALE, f"{uri} changed since it was opened ({why}); open it again", uri)


class Hints:
    """path -> file_meta, at most ``capacity`` entries, each for ``ttl`` seconds."""

    def __init__(self, capacity=8192, ttl=30.0):
        self.capacity = int(capacity)
        self.ttl = float(ttl)
        self._d = OrderedDict()
        self._lock = threading.Lock()

    def put(self, path, entry):
        meta = file_meta(entry)
        with self._lock:
            if meta is None:
                self._d.pop(path, None)
                return
            self._d[path] = (time.monotonic() + self.ttl, meta)
            self._d.move_to_end(path)
            while len(self._d) > self.capacity:
                self._d.popitem(last=False)

    def get(self, path):
        with self._lock:
            hit = self._d.get(path)
            if hit is None:
                return None
            if hit[0] < time.monotonic():
                del self._d[path]
                return None
            return hit[1]


def _scheme(uri):
    return uri.split("://", 1)[0].lower() if "://" in uri else "file"


def _same_family(a, b):
    return a == b or any(a in f and b in f for f in _FAMILIES)


def _strip_quotes(etag):
    return str(etag).strip().strip('"') if etag else None


class UfsFallback:
    """Reads from the UFS directly for AlluxioFileSystem when no worker can serve.

    The file system of a scheme is, in this order: ``fs`` (upstream's argument: one ready
    file system for every URI); ``storage_options(scheme)`` when it is a callable (it returns
    a file system); ``fsspec.filesystem(scheme, **storage_options[scheme])`` when it is a
    dict with that scheme; ``fsspec.filesystem(scheme, **target_options)`` when
    ``target_protocol`` is unset or of the scheme's family; else ``fsspec.filesystem(scheme)``.
    """

    def __init__(self, enabled, storage_options=None, target_protocol=None, target_options=None, fs=None):
        self.enabled = bool(enabled)
        if storage_options is not None and not callable(storage_options) and not isinstance(storage_options, dict):
            raise TypeError("alluxiofs: ufs_storage_options is a dict {scheme: options} or a callable(scheme) -> file system")
        self.storage_options = storage_options
        self.target_protocol = target_protocol.lower() if isinstance(target_protocol, str) else None
        self.target_options = dict(target_options or {})
        self.given_fs = fs
        self._fs = {}
        self._lock = threading.Lock()

    def filesystem(self, uri, cause):
        """The fsspec file system for ``uri``; when it cannot be made (its implementation is
        not installed, bad options), WorkersUnavailableError naming both failures."""
        if self.given_fs is not None:
            return self.given_fs
        scheme = _scheme(uri)
        with self._lock:
            fs = self._fs.get(scheme)
        if fs is not None:
            return fs
        try:
            if callable(self.storage_options):
                fs = self.storage_options(scheme)
            else:
                import fsspec

                if isinstance(self.storage_options, dict) and scheme in self.storage_options:
                    opts = dict(self.storage_options[scheme] or {})
                elif self.target_protocol is None or _same_family(self.target_protocol, scheme):
                    opts = dict(self.target_options)
                else:
                    opts = {}
                fs = fsspec.filesystem(scheme, **opts)
        except Exception as e:  # noqa: BLE001 - ImportError (s3fs missing), ValueError (unknown protocol), ...
            raise WorkersUnavailableError(f"{cause}; and the UFS fallback cannot read {scheme}:// URIs ({type(e).__name__}: {e})") from e
        with self._lock:
            self._fs.setdefault(scheme, fs)
        return fs

    @staticmethod
    def check(fs, uri, meta):
        """Raise UfsVersionMismatchError when the UFS's file at ``uri`` is not the version
        ``meta`` (what the workers said) describes; returns its current size."""
        try:
            cur = fs.info(uri)
        except FileNotFoundError:
            raise UfsVersionMismatchError(errno.ESTALE, f"{uri} is gone from the UFS since the workers described it", uri) from None
        size = int(cur.get("size") or 0)
        if meta is None:
            return size
        why = None
        if size != meta["size"]:
            why = f"size {size} in the UFS, {meta['size']} when opened"
        else:
            ufs_etag = _strip_quotes(cur.get("ETag") or cur.get("etag") or cur.get("e_tag"))
            etag = _strip_quotes(meta.get("etag"))
            if ufs_etag and etag and ufs_etag != etag and _scheme(uri) != "file":
                why = f"ETag {ufs_etag} in the UFS, {etag} when opened"
            elif _scheme(uri) == "file" and meta.get("mtime") and isinstance(cur.get("mtime"), (int, float)):
                # the worker reports whole milliseconds; fsspec's local mtime is a float
                if abs(float(cur["mtime"]) * 1000.0 - meta["mtime"] * 1000.0) >= 1.5:
                    why = f"modified at {cur['mtime']} in the UFS, {meta['mtime']} when opened"
        if why:
            raise UfsVersionMismatchError(errno.ESTALE, f"{uri} changed in the UFS since it was opened ({why}); the UFS fallback does not mix versions: open it again", uri)
        return size

    def read(self, fs, uri, start, end, meta):
        """Bytes [start, end) (end None = EOF) of ``uri`` from the UFS, of the version in
        ``meta`` (checked before the read, and the length after)."""
        size = self.check(fs, uri, meta)
        stop = size if end is None else min(end, size)
        if stop <= start:
            return b""
        data = fs.cat_file(uri, start=start, end=stop)
        if len(data) != stop - start:
            raise UfsVersionMismatchError(errno.ESTALE, f"{uri}: the UFS gave {len(data)} bytes for [{start}, {stop}); it changed while read", uri)
        return data
