"""AlluxioFileSystem: an fsspec filesystem that reads and writes through the workers'
REST API (docs/rest-api.md). Paths are UFS-native URIs (``s3://bucket/data/x``,
``file:///srv/data/x``), resolved by the worker's reverse mount lookup, or Alluxio paths
(``alluxio:///data/x``, or ``/data/x``). Both go through the worker's one resolver, so the
cluster's rewrite rules apply exactly as for S3 and POSIX clients.
"""
import datetime
import http.client
import logging
import tempfile
from glob import has_magic

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem
from fsspec.utils import stringify_path

from .client import WorkerClient
from .errors import WorkersUnavailableError, error_from_response

__all__ = ["AlluxioFileSystem", "AlluxioFile"]

log = logging.getLogger("alluxiofs")

MiB = 1 << 20


class AlluxioFileSystem(AbstractFileSystem):
    """fsspec filesystem over the Alluxio workers.

    Parameters
    ----------
    worker_hosts: str
        Comma-separated worker hosts (``host`` or ``host:port``).
    worker_http_port: int
        The workers' REST port when a host names none (default 28080).
    etcd_hosts: str
        Comma-separated etcd hosts: live workers are read from the cluster's membership
        (``/alluxio/<cluster>/workers/``) through etcd's JSON gateway, and re-read every
        ``membership_refresh_seconds`` and whenever every known worker failed.
    etcd_port: int
        etcd's client port when a host names none (default 2379).
    cluster_name: str
        The cluster's name in etcd (default "default").
    target_protocol, target_options:
        The UFS's own fsspec filesystem (e.g. "s3" with s3fs options), used only for the
        fallback below. Default: the scheme of the URI being read.
    ufs_fallback: bool
        When every worker fails (refused, timed out, unavailable), serve READS of
        UFS-native URIs from the UFS directly (without the cluster's rewrite rules).
        Writes never fall back. Default False.
    timeout: float
        Socket timeout per request (seconds, default 30).
    """

    protocol = "alluxiofs"
    root_marker = ""

    def __init__(
        self,
        worker_hosts=None,
        worker_http_port=28080,
        etcd_hosts=None,
        etcd_port=2379,
        cluster_name="default",
        target_protocol=None,
        target_options=None,
        ufs_fallback=False,
        timeout=30.0,
        dead_worker_cooldown=10.0,
        membership_refresh_seconds=10.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.client = WorkerClient(
            worker_hosts=worker_hosts,
            worker_http_port=worker_http_port,
            etcd_hosts=etcd_hosts,
            etcd_port=etcd_port,
            cluster_name=cluster_name,
            timeout=timeout,
            dead_worker_cooldown=dead_worker_cooldown,
            membership_refresh_seconds=membership_refresh_seconds,
        )
        self.target_protocol = target_protocol
        self.target_options = dict(target_options or {})
        self.ufs_fallback = bool(ufs_fallback)
        self._ufs_fs = {}

    # ---- paths ------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, (list, tuple)):
            return [cls._strip_protocol(p) for p in path]
        path = stringify_path(path)
        if path.startswith("alluxiofs://"):
            path = path[len("alluxiofs://") :]
        if path.startswith("/"):
            path = "alluxio://" + path
        while path.endswith("/") and not path.endswith("://") and not path.endswith(":///"):
            path = path[:-1]
        return path

    def unstrip_protocol(self, name):
        return name

    @classmethod
    def _parent(cls, path):
        path = cls._strip_protocol(path)
        scheme, sep, rest = path.partition("://")
        if not sep:
            return path
        if "/" not in rest.lstrip("/"):
            return f"{scheme}://{rest[:1]}" if rest.startswith("/") else f"{scheme}://{rest}"
        return path.rsplit("/", 1)[0]

    @staticmethod
    def _is_alluxio_path(path):
        return path.lower().startswith("alluxio://")

    # ---- fallback to the UFS ------------------------------------------------------------

    def _fallback_fs(self, path):
        if not self.ufs_fallback or self._is_alluxio_path(path) or "://" not in path:
            return None
        import fsspec

        scheme = path.split("://", 1)[0].lower()
        proto = self.target_protocol or scheme
        fs = self._ufs_fs.get(proto)
        if fs is None:
            fs = self._ufs_fs[proto] = fsspec.filesystem(proto, **self.target_options)
        return fs

    def _read_call(self, path, remote, local):
        """Run ``remote()``; when every worker failed and fallback is on, ``local(ufs_fs)``."""
        try:
            return remote()
        except WorkersUnavailableError as e:
            fs = self._fallback_fs(path)
            if fs is None:
                raise
            log.warning("alluxiofs: falling back to the UFS for %s (%s)", path, e)
            return local(fs)

    @staticmethod
    def _ufs_entry(fs, info):
        out = dict(info)
        out["name"] = fs.unstrip_protocol(info["name"])
        return out

    # ---- metadata -----------------------------------------------------------------------

    @staticmethod
    def _entry(doc):
        out = {
            "name": doc["name"],
            "size": int(doc.get("size") or 0),
            "type": doc["type"],
            "mtime": float(doc.get("mtime") or 0.0),
        }
        if doc.get("etag"):
            out["etag"] = doc["etag"]
        if doc.get("virtual"):
            out["virtual"] = True
        if doc.get("resolved"):
            out["resolved"] = doc["resolved"]
        return out

    def info(self, path, **kwargs):
        path = self._strip_protocol(path)
        return self._read_call(
            path,
            lambda: self._entry(self.client.call("GET", "info", path).json()),
            lambda fs: self._ufs_entry(fs, fs.info(path)),
        )

    def ls(self, path, detail=True, **kwargs):
        path = self._strip_protocol(path)

        def remote():
            try:
                doc = self.client.call("GET", "list", path).json()
            except NotADirectoryError:
                return [self.info(path)]
            return [self._entry(e) for e in doc["entries"]]

        entries = self._read_call(path, remote, lambda fs: [self._ufs_entry(fs, e) for e in fs.ls(path, detail=True)])
        return entries if detail else [e["name"] for e in entries]

    def exists(self, path, **kwargs):
        try:
            self.info(path)
            return True
        except (FileNotFoundError, ValueError):
            return False

    def modified(self, path):
        return datetime.datetime.fromtimestamp(self.info(path)["mtime"], tz=datetime.timezone.utc)

    def resolve(self, path):
        """The worker's resolution of ``path`` with its trace (rule, mount, UFS URI, revision)."""
        return self.client.call("GET", "resolve", self._strip_protocol(path)).json()

    def mounts(self):
        """The mount table the workers serve: {"revision", "mounts": [{path, ufsUri, readOnly}]}."""
        return self.client.call("GET", "mounts", "alluxio:///").json()

    # ---- reads --------------------------------------------------------------------------

    def _range(self, path, start, end):
        """Bytes [start, end) of a file (end None = to EOF); b"" beyond EOF."""
        if end is not None and end <= start:
            return b""
        rng = f"bytes={start}-" + ("" if end is None else str(end - 1))

        def remote():
            resp = self.client.request("GET", "file", path, headers={"range": rng, "accept": "*/*"})
            if resp.status == 416:
                return b""
            if resp.status not in (200, 206):
                raise error_from_response(resp.status, resp.body, path)
            if resp.status == 200 and start > 0:  # range ignored: cut it ourselves
                return resp.body[start:end]
            return resp.body

        return self._read_call(path, remote, lambda fs: fs.cat_file(path, start=start, end=end))

    def cat_file(self, path, start=None, end=None, **kwargs):
        path = self._strip_protocol(path)
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = self.info(path)["size"]
            if start is not None and start < 0:
                start = max(0, size + start)
            if end is not None and end < 0:
                end = max(0, size + end)
        return self._range(path, start or 0, end)

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kwargs):
        path = self._strip_protocol(path)
        if mode not in ("rb", "wb"):
            raise ValueError(f"alluxiofs: mode {mode!r} is not supported (use 'rb' or 'wb')")
        return AlluxioFile(self, path, mode=mode, block_size=block_size, autocommit=autocommit, cache_options=cache_options, **kwargs)

    # ---- writes (no fallback: the worker enforces read-only mounts) ---------------------

    def _put(self, path, body, length):
        resp = self.client.call(
            "PUT",
            "file",
            path,
            headers={"content-type": "application/octet-stream", "content-length": str(length)},
            body=body,
        )
        return self._entry(resp.json())

    def pipe_file(self, path, value, **kwargs):
        path = self._strip_protocol(path)
        value = bytes(value)
        return self._put(path, value, len(value))

    def mkdir(self, path, create_parents=True, **kwargs):
        path = self._strip_protocol(path)
        if not create_parents and not self.exists(self._parent(path)):
            raise FileNotFoundError(f"parent of {path} does not exist")
        self.client.call("POST", "mkdir", path)

    def makedirs(self, path, exist_ok=False):
        path = self._strip_protocol(path)
        if not exist_ok and self.exists(path):
            raise FileExistsError(path)
        self.client.call("POST", "mkdir", path)

    mkdirs = makedirs

    def _delete(self, path, recursive=False):
        self.client.call("DELETE", "file", path, params={"recursive": "true"} if recursive else None)

    def rm_file(self, path):
        self._delete(self._strip_protocol(path))

    _rm = rm_file

    def rmdir(self, path):
        path = self._strip_protocol(path)
        if not self.isdir(path):
            raise NotADirectoryError(path)
        self._delete(path)

    def rm(self, path, recursive=False, maxdepth=None):
        paths = path if isinstance(path, (list, tuple)) else [path]
        targets = []
        for p in paths:
            p = self._strip_protocol(p)
            targets.extend(self.glob(p) if has_magic(p) else [p])
        for p in targets:
            self._delete(p, recursive=recursive)

    def invalidate_cache(self, path=None):
        pass  # nothing is cached: every call asks a worker (rules may change any time)


class AlluxioFile(AbstractBufferedFile):
    """A file of AlluxioFileSystem: reads are buffered ranged GETs (read-ahead of
    ``block_size``), writes are spooled locally and sent in one streamed PUT on close."""

    DEFAULT_BLOCK_SIZE = 8 * MiB

    def __init__(self, fs, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kwargs):
        size = kwargs.pop("size", None)
        if mode == "rb" and size is None:
            details = fs.info(path)
            if details["type"] == "directory":
                raise IsADirectoryError(21, "is a directory", path)
            size = details["size"]
            self._details = details
        self._stream = None  # (connection, response) of a sequential read
        self._stream_pos = 0
        self._stream_failed = False
        self._last_end = 0
        super().__init__(fs, path, mode=mode, block_size=block_size, autocommit=autocommit, cache_options=cache_options, size=size, **kwargs)
        self._spool = None

    def _fetch_range(self, start, end):
        """Bytes [start, end). A read that continues where the previous one ended is served
        from one streamed GET to EOF (no request per block, the worker keeps sending); any
        other read is one bounded ranged GET. A stream that breaks (worker gone) is
        reopened where it broke, on the next worker."""
        end = min(end, self.size)
        if end <= start:
            return b""
        sequential = start == self._last_end
        self._last_end = end
        if not sequential or self._stream_failed:
            self._close_stream()
            return self.fs._range(self.path, start, end)
        parts = []
        pos = start
        attempts = 2 + len(self.fs.client.workers())
        while pos < end and attempts > 0:
            if self._stream is None or self._stream_pos != pos:
                self._close_stream()
                try:
                    opened = self.fs.client.open_stream(self.path, pos)
                except WorkersUnavailableError:
                    self._stream_failed = True
                    parts.append(self.fs._range(self.path, pos, end))  # the UFS, when fallback is on
                    break
                if opened is None:  # at EOF: the file shrank
                    break
                self._stream, self._stream_pos = opened, pos
            try:
                data = self._stream[1].read(end - pos)
            except (OSError, http.client.HTTPException) as e:
                data, err = b"", e
            else:
                err = None
            if data:
                parts.append(data)
                pos += len(data)
                self._stream_pos = pos
            if pos < end:  # short read: the connection broke (or the file shrank)
                log.warning("alluxiofs: stream of %s broke at byte %d (%s); reopening", self.path, pos, err or "short body")
                self._close_stream()
                attempts -= 1
        return b"".join(parts) if len(parts) != 1 else parts[0]

    def _close_stream(self):
        if self._stream is not None:
            self._stream[0].close()
            self._stream = None

    def _initiate_upload(self):
        self._spool = tempfile.SpooledTemporaryFile(max_size=64 * MiB)

    def _upload_chunk(self, final=False):
        if self._spool is None:
            self._initiate_upload()
        self.buffer.seek(0)
        self._spool.write(self.buffer.getbuffer())
        if final:
            length = self._spool.tell()
            self._spool.seek(0)
            try:
                self.fs._put(self.path, self._spool, length)
            finally:
                self._spool.close()
                self._spool = None
        return True

    def discard(self):
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def close(self):
        try:
            super().close()
        finally:
            self._close_stream()
            self.discard()


def _register():
    import fsspec

    try:
        fsspec.register_implementation("alluxiofs", AlluxioFileSystem, clobber=True)
    except Exception:  # pragma: no cover - very old fsspec
        pass

