"""AlluxioFileSystem: an fsspec filesystem that reads and writes through the workers'
REST API (docs/rest-api.md). Paths are UFS-native URIs (``s3://bucket/data/x``,
``file:///srv/data/x``), resolved by the worker's reverse mount lookup, or Alluxio paths
(``alluxio:///data/x``, or ``/data/x``). Both go through the worker's one resolver, so the
cluster's rewrite rules apply exactly as for S3 and POSIX clients.

Reads go to the file's owner (docs/cluster-cache.md): the first worker of
``placement_order(ring, ufs_uri)``, where ``ufs_uri`` is the resolved UFS URI the ``info``
of the path answered (remembered a while in ``Hints``, ufs.py, and per open file), then the
next owners. Metadata calls go by the request URI. When every worker failed and
``ufs_fallback`` is on, reads come from the UFS itself (ufs.py), version checked.

Short-circuit reads: when the worker that resolved a path is on this host and the path
resolved to a file:// mount, the worker names the local file (and its identity); reads
then come from that file with this process's own permissions instead of over HTTP.

One class of ~690 lines because it is fsspec's method set (paths, metadata, reads, writes,
fallback); the file object is in file.py, the HTTP client in client.py, the read machinery
(pool, parallel parts, batching, counters) in reads.py, hints and the UFS fallback in ufs.py.
docs/alluxiofs.md has the guide.
"""
import datetime
import errno
import hashlib
import logging
import os
import re
import stat
import threading
from glob import has_magic

from fsspec.spec import AbstractFileSystem
from fsspec.utils import stringify_path, tokenize

from .client import WorkerClient
from .errors import UfsVersionMismatchError, WorkersUnavailableError, error_from_response
from .file import AlluxioFile, _pread, check_local
from .reads import Pool, ReadStats, merge_ranges, split_range
from .ufs import Hints, UfsFallback, check_served, file_meta

__all__ = ["AlluxioFileSystem", "AlluxioFile"]

log = logging.getLogger("alluxiofs")

MiB = 1 << 20
_UPSTREAM_IGNORED = ("options", "logger", "concurrency", "preload_path", "test_options")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


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
        Options of the UFS's own fsspec filesystem (e.g. "s3" with s3fs options), used
        only for the fallback below, for URIs of that scheme (all schemes when
        target_protocol is not given).
    ufs_fallback: bool
        When every worker fails (refused, timed out, unavailable), serve READS from the
        UFS directly with fsspec: a file whose ``info`` a worker answered (an open file,
        or a path asked within the last 30 s) is read at its resolved UFS URI after a
        check that the UFS still holds that version (size; ETag when the UFS gives one;
        mtime for file://), else UfsVersionMismatchError; other UFS-native URIs are read
        as named (without the cluster's rewrite rules). Writes never fall back, nor
        Alluxio paths the workers never resolved. Default False.
    ufs_storage_options: dict or callable
        For the fallback: ``{scheme: options}`` for ``fsspec.filesystem(scheme,
        **options)`` (e.g. ``{"s3": {"key": ..., "secret": ..., "client_kwargs":
        {"endpoint_url": ...}}}``), or a callable ``(scheme) -> fsspec file system``.
        file:// needs nothing; s3:// needs s3fs installed.
    timeout: float
        Socket timeout per request (seconds, default 30).
    short_circuit: bool
        Read files of file:// mounts directly from the local file system when the worker
        that resolved them runs on this host (the worker resolves and names the file; this
        process opens it with its own permissions and checks it is the file the worker
        saw, else reads over HTTP). Reads only ("rb" and cat_file); writes always go to a
        worker. Default True; the environment variable ALLUXIO_SHORT_CIRCUIT=0 turns it
        off whatever the argument says.
    use_https, ca_bundle, client_cert, client_key:
        HTTPS to the workers' REST TLS ports (`alluxio worker start --tls-cert ...`):
        ``ca_bundle`` is the PEM file of the CA to trust (default: the system's; also
        ALLUXIO_CA_BUNDLE), ``client_cert``/``client_key`` a client certificate for
        workers started with --tls-client-ca. HTTPS is used when any of them is given, a
        worker host is written ``https://host:port``, or ``use_https=True``; discovered
        workers are then reached on the restTlsPort of their membership record, and never
        over plain HTTP.
    access_key, secret_key: str
        Keys for workers that require authentication (configured with
        ALLUXIO_S3_CREDENTIALS, the same key pairs as their S3 API): every request is then
        signed with AWS Signature Version 4 (bodies as UNSIGNED-PAYLOAD). Default: the
        environment's ALLUXIO_ACCESS_KEY / ALLUXIO_SECRET_KEY, else AWS_ACCESS_KEY_ID /
        AWS_SECRET_ACCESS_KEY; without keys requests are unsigned (open workers). A worker
        refusing the signature raises PermissionError.
    region: str
        The region of the signatures' credential scope (default: ALLUXIO_S3_REGION, else
        us-east-1).
    fs:
        As in upstream alluxiofs: a ready fsspec file system of the UFS, used for the
        fallback instead of one built from target_protocol/target_options. Upstream's
        ``options``, ``logger``, ``concurrency``, ``preload_path`` and ``test_options`` are
        accepted and ignored.
    cache_type, block_size:
        Defaults for ``open(..., "rb")`` over HTTP: fsspec's cache type and its block size
        (8 MiB). Default "none": each read fetches exactly what was asked (Parquet column
        projection reads only its columns) and a read continuing the previous one comes from
        one streamed GET, so sequential reads need no read-ahead. Any of fsspec's caches
        ("readahead", "blockcache", "bytes", "first", "all", "background", ...) can be
        chosen here or per file in ``open()``.
    parallel_fetch, parallel_part_size, parallel_threshold:
        A read of at least ``parallel_threshold`` bytes (default 16 MiB) over HTTP is
        fetched in parts of ``parallel_part_size`` (8 MiB) by ``parallel_fetch`` threads
        (default 4; 1 turns it off), each with its own keep-alive connection. The same pool
        runs the requests of ``cat_ranges``.
    """

    # "alluxiofs" is fsspec's name for this file system (URLs alluxiofs:///data/x);
    # "alluxio" too, because names come back as alluxio:///data/x and libraries that
    # round-trip names (DuckDB, Datasets) look the file system up by the name's scheme.
    protocol = ("alluxiofs", "alluxio")
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
        ufs_storage_options=None,
        timeout=30.0,
        dead_worker_cooldown=10.0,
        membership_refresh_seconds=10.0,
        short_circuit=True,
        access_key=None,
        secret_key=None,
        region=None,
        cache_type="none",
        block_size=None,
        parallel_fetch=4,
        parallel_part_size=8 * MiB,
        parallel_threshold=16 * MiB,
        fs=None,
        use_https=None,
        ca_bundle=None,
        client_cert=None,
        client_key=None,
        **kwargs,
    ):
        # Arguments of the upstream fsspec/alluxiofs package that have no meaning here
        # (its worker-side options, logger, thread count, preload, test hooks) are
        # accepted and ignored, so existing code constructs this class unchanged.
        for name in _UPSTREAM_IGNORED:
            kwargs.pop(name, None)
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
            access_key=access_key,
            secret_key=secret_key,
            region=region,
            use_https=use_https,
            ca_bundle=ca_bundle,
            client_cert=client_cert,
            client_key=client_key,
        )
        self.target_protocol = target_protocol
        self.target_options = dict(target_options or {})
        self.ufs_fallback = _as_bool(ufs_fallback)
        # upstream's ``fs``: a ready UFS file system for the fallback
        self._ufs = UfsFallback(self.ufs_fallback, ufs_storage_options, target_protocol, self.target_options, fs)
        self._hints = Hints()  # path -> resolved UFS URI, size, ETag, mtime of its last info
        self.short_circuit = _as_bool(short_circuit) and _short_circuit_allowed()
        # What short-circuit did: files opened locally, cat_file ranges read locally, and
        # grants that could not be used (the read went over HTTP instead).
        self.short_circuit_stats = {"opens": 0, "ranges": 0, "fallbacks": 0}
        self._stats_lock = threading.Lock()
        self.cache_type = cache_type
        self.default_block_size = int(block_size) if block_size else AlluxioFile.DEFAULT_BLOCK_SIZE
        self.part_size = max(64 * 1024, int(parallel_part_size))
        self.parallel_threshold = max(self.part_size, int(parallel_threshold))
        self.read_stats = ReadStats()
        self._pool = Pool(int(parallel_fetch))

    # ---- paths ------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path):
        """The path as sent to the workers: a UFS-native URI as is, an Alluxio path as
        ``alluxio:///p``. ``alluxiofs:///p``, ``alluxiofs://p``, ``alluxio://p`` and ``/p``
        are Alluxio paths; ``alluxiofs://s3://b/k`` (a UFS URI behind the fsspec prefix) is ``s3://b/k``.
        Trailing slashes go (but not the root's)."""
        if isinstance(path, (list, tuple)):
            return [cls._strip_protocol(p) for p in path]
        path = stringify_path(path)
        if path[:12].lower() == "alluxiofs://":
            path = path[12:]
            if not _SCHEME.match(path) and not path.startswith("/"):
                path = "/" + path
        if path[:10].lower() == "alluxio://":
            rest = path[10:]
            head = rest.split("/", 1)[0]
            # alluxio://data/x (a slash lost by a library that normalised the URL, as
            # Datasets' streaming does) is alluxio:///data/x; an authority that names a
            # host:port (Alluxio's master address) is kept and ignored by the worker.
            if head and ":" not in head and "@" not in head:
                rest = "/" + rest
            path = "alluxio://" + rest
        if path.startswith("/"):
            path = "alluxio://" + path
        elif not _SCHEME.match(path):
            path = "alluxio:///" + path
        while path.endswith("/") and not path.endswith("://") and not path.endswith(":///"):
            path = path[:-1]
        return path

    def unstrip_protocol(self, name):
        """Names are full URLs already (``alluxio:///p`` or the UFS URI asked for); both
        forms open again through this file system."""
        return self._strip_protocol(name)

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

    def _read_call(self, path, remote, local, meta=None, resolved=True):
        """Run ``remote()``; when every worker failed and fallback is on,
        ``local(ufs_fs, ufs_uri, meta)``: with ``resolved`` (a read of a file), ``ufs_uri``
        is the resolved UFS URI of ``meta`` (an open file's info) or of the path's hint,
        with that info as ``meta``; otherwise (metadata, or nothing known) a UFS-native
        path as named, with ``meta`` None. Alluxio paths never resolved raise."""
        try:
            return remote()
        except WorkersUnavailableError as e:
            if not self.ufs_fallback:
                raise
            if resolved and meta is None:
                meta = self._hints.get(path)
            if not resolved or meta is None:
                meta = None
                if self._is_alluxio_path(path) or "://" not in path:
                    raise
                target = path
            else:
                target = meta["ufsUri"]
            fs = self._ufs.filesystem(target, e)
            log.warning("alluxiofs: falling back to the UFS for %s at %s (%s)", path, target, e)
            return local(fs, target, meta)

    def _ufs_read(self, fs, target, start, end, meta):
        data = self._ufs.read(fs, target, start, end, meta)
        self.read_stats.add(ufs_bytes=len(data))
        return data

    def _owner_key(self, path, meta=None):
        """The placement key of reads of ``path``: the resolved UFS URI of ``meta`` or of
        the path's hint; the request URI when neither is known."""
        meta = meta or self._hints.get(path)
        return meta["ufsUri"] if meta else path

    def read_order(self, path):
        """The workers a read of ``path`` is sent to, in order (the owner first): the
        ring's placement order of the file's resolved UFS URI, which this asks a worker
        for (``info``). For debugging and tests."""
        path = self._strip_protocol(path)
        self._info(path)
        return self.client.owner_order(self._owner_key(path))

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
        if doc.get("localPath") and isinstance(doc.get("local"), dict):
            out["localPath"] = doc["localPath"]
            out["local"] = doc["local"]
        return out

    @staticmethod
    def _plain_form(path):
        """True when the caller named an Alluxio path without a scheme (``/data/x``, as
        PyArrow's FSSpecHandler and Ray pass paths): names are then returned that way too,
        so a listing's names start with the directory asked for."""
        if isinstance(path, (list, tuple)):
            return bool(path) and all(AlluxioFileSystem._plain_form(p) for p in path)
        return isinstance(path, str) and path.startswith("/")

    @staticmethod
    def _to_plain(entry):
        name = entry["name"]
        if name.startswith("alluxio:///"):
            entry = dict(entry)
            entry["name"] = name[len("alluxio://") :]
        return entry

    def info(self, path, **kwargs):
        out = self._info(self._strip_protocol(path))
        return self._to_plain(out) if self._plain_form(path) else out

    def _info(self, path, local=False):
        """info of a stripped path; with ``local`` the worker adds the short-circuit grant
        (``localPath`` and ``local``) when it is on this host and the mount is file://.
        A file's resolution is remembered as the path's hint (reads go to its owner)."""
        params = {"shortCircuit": "true"} if local else None

        def remote():
            # asked of the worker the bytes come from (the owner of the path's last known UFS
            # URI), so that within a metadata TTL its answer is the version it serves
            hint = self._hints.get(path)
            owner = hint["ufsUri"] if hint else None
            resp = self.client.call("GET", "info", path, params=params, owner_key=owner)
            entry = self._entry(resp.json())
            ufs_uri = (entry.get("resolved") or {}).get("ufsUri")
            if owner is None and entry.get("type") == "file" and ufs_uri:
                # No hint: asked of the worker the path hashes to. Within a metadata TTL its
                # version can be older than the owner's, which serves the bytes (an open
                # file's first read then failed as "changed since it was opened"): the
                # owner's answer counts, asked once more when another worker answered.
                owners = self.client.owner_order(ufs_uri)
                if owners and resp.worker != owners[0]:
                    entry = self._entry(self.client.call("GET", "info", path, params=params, owner_key=ufs_uri).json())
            self._hints.put(path, entry)
            return entry

        return self._read_call(path, remote, lambda fs, target, _: self._ufs_entry(fs, fs.info(target)), resolved=False)

    def _version_of(self, path):
        """What names a file's content: its info without the config revision the answer was
        resolved at (which any mount or rule change anywhere moves)."""
        e = self.info(path)
        resolved = e.get("resolved") or {}
        # (not the name: /data/x, alluxio:///data/x and a rule's path name the same file)
        return [e.get("type"), e.get("size"), e.get("mtime"), e.get("etag"), resolved.get("ufsUri")]

    def checksum(self, path):
        """fsspec's: the same while the file is (its ETag, size, mtime and the UFS file it
        resolves to); before 2026-12-02 it hashed the whole info, with the config revision,
        so every mount or rule change anywhere changed it (filecache then fetched again)."""
        return int(tokenize(self._version_of(path)), 16)

    def ukey(self, path):
        return hashlib.sha256(str(self._version_of(path)).encode()).hexdigest()

    def ls(self, path, detail=True, **kwargs):
        plain = self._plain_form(path)
        path = self._strip_protocol(path)

        def remote():
            try:
                doc = self.client.call("GET", "list", path).json()
            except NotADirectoryError:
                return [self.info(path)]
            return [self._entry(e) for e in doc["entries"]]

        try:
            entries = self._read_call(path, remote, lambda fs, target, _: [self._ufs_entry(fs, e) for e in fs.ls(target, detail=True)], resolved=False)
        except Exception as e:
            refused = kwargs.get("_refused")  # (a walk's: see walk)
            if refused is not None and not isinstance(e, FileNotFoundError):
                refused.append(e)
            raise
        if plain:
            entries = [self._to_plain(e) for e in entries]
        return entries if detail else [e["name"] for e in entries]

    @staticmethod
    def _plain_name(name):
        return name[len("alluxio://") :] if isinstance(name, str) and name.startswith("alluxio:///") else name

    @classmethod
    def _plain_out(cls, out):
        """``out`` (a list of names, or a dict keyed by names whose values may be info
        dicts) with its Alluxio names in the plain form ``/p``."""
        if isinstance(out, dict):
            return {cls._plain_name(k): cls._to_plain(v) if isinstance(v, dict) and "name" in v else v for k, v in out.items()}
        return [cls._plain_name(n) for n in out]

    def find(self, path, maxdepth=None, withdirs=False, detail=False, **kwargs):
        out = super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kwargs)
        return self._plain_out(out) if self._plain_form(path) else out

    def glob(self, path, **kwargs):
        out = super().glob(path, **kwargs)
        return self._plain_out(out) if self._plain_form(path) else out

    def walk(self, path, maxdepth=None, topdown=True, on_error="omit", **kwargs):
        """fsspec's walk; roots (and, with ``detail``, the entries' names) in the plain
        form when ``path`` was plain. The ``dirs`` yielded are walk's own, so pruning them
        in place still steers a top-down walk.

        With the default ``on_error="omit"``, only a directory that is gone is left out: any
        other error of a listing (the UFS refusing the mount's credentials, no worker, a
        timeout) is raised, as s3fs does. fsspec's own walk omits every error, so before
        2026-12-02 ``find``, ``glob``, ``du``, ``get(recursive=True)`` and pyarrow's dataset
        discovery answered an empty tree (0 rows, no error) for a mount whose credentials
        the UFS refused."""
        plain = self._plain_form(path)
        # (ls records its errors here, and fsspec's walk passes it on to the walks below:
        # fsspec before 2023 has no on_error and omits every error without a word, and
        # current fsspec does not pass on_error to the walks below, which omit theirs)
        refused = kwargs.pop("_refused", None)
        outermost = refused is None
        if outermost:
            refused = []
            if callable(on_error):  # (what fsspec hands the callable itself is not handed twice)
                given, handed = on_error, set()

                def on_error(e):
                    handed.add(id(e))
                    given(e)

        kwargs["_refused"] = refused
        for root, dirs, files in super().walk(path, maxdepth=maxdepth, topdown=topdown, on_error=on_error, **kwargs):
            if plain:
                root = self._plain_name(root)
                for group in (dirs, files):
                    if isinstance(group, dict):
                        for k, v in list(group.items()):
                            group[k] = self._to_plain(v)
            yield root, dirs, files
        if not outermost or not refused:
            return
        if callable(on_error):
            for e in refused:
                if id(e) not in handed:
                    given(e)
        else:  # "omit" (the default: as s3fs, only a directory gone is left out) and "raise"
            raise refused[0]

    def expand_path(self, path, recursive=False, maxdepth=None, **kwargs):
        out = super().expand_path(path, recursive=recursive, maxdepth=maxdepth, **kwargs)
        return self._plain_out(out) if self._plain_form(path) else out

    def cat(self, path, recursive=False, on_error="raise", **kwargs):
        """fsspec's cat, keyed in the plain form when ``path`` was plain (a dict comes
        back as fsspec decides: several paths, a list, a glob or a directory)."""
        plain = self._plain_form(path)
        paths = [self._strip_protocol(p) for p in self.expand_path(path, recursive=recursive)]
        if len(paths) == 1 and not isinstance(path, list) and paths[0] == self._strip_protocol(path):
            return self.cat_file(paths[0], **kwargs)
        out = {}
        for p in paths:
            try:
                out[p] = self.cat_file(p, **kwargs)
            except Exception as e:
                if on_error == "raise":
                    raise
                if on_error == "return":
                    out[p] = e
        return self._plain_out(out) if plain else out

    def exists(self, path, **kwargs):
        try:
            self.info(path)
            return True
        except (FileNotFoundError, ValueError):
            return False

    def isdir(self, path):
        # as exists(): a name that cannot be a path is not a directory (fsspec's own isdir
        # catches OSError only, and the invalid-path error is a ValueError)
        try:
            return self.info(path)["type"] == "directory"
        except (OSError, ValueError):
            return False

    def isfile(self, path):
        try:
            return self.info(path)["type"] == "file"
        except (OSError, ValueError):
            return False

    def modified(self, path):
        info = self.info(path)
        if info["type"] == "directory" and not info.get("mtime"):
            # an object store's directory has no time (it was 1970-01-01); s3fs raises too
            raise IsADirectoryError(21, "a directory of an object store has no modification time", path)
        return datetime.datetime.fromtimestamp(info["mtime"], tz=datetime.timezone.utc)

    def resolve(self, path):
        """The worker's resolution of ``path`` with its trace (rule, mount, UFS URI, revision)."""
        return self.client.call("GET", "resolve", self._strip_protocol(path)).json()

    def mounts(self):
        """The mount table the workers serve: {"revision", "mounts": [{path, ufsUri, readOnly}]}."""
        return self.client.call("GET", "mounts", "alluxio:///").json()

    # ---- short-circuit reads --------------------------------------------------------------

    def _count(self, what):
        with self._stats_lock:
            self.short_circuit_stats[what] += 1

    def _open_local(self, details):
        """The file descriptor of the local file the worker named in ``details``, or None
        (no grant, or the file cannot be opened, or it is not the file the worker saw:
        then the read goes over HTTP). The file is opened first and the open file is
        checked (fstat), so the bytes read are those of the file the worker checked."""
        path, ident = details.get("localPath"), details.get("local")
        if not self.short_circuit or not path or not isinstance(ident, dict) or not hasattr(os, "pread"):
            return None
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            log.debug("alluxiofs: short-circuit open of %s failed (%s); reading over HTTP", path, e)
            self._count("fallbacks")
            return None
        try:
            st = os.fstat(fd)
            same = (
                stat.S_ISREG(st.st_mode)
                and st.st_size == int(ident["size"]) == int(details["size"])
                and st.st_mtime_ns == int(ident["mtimeNs"])
                # (a rewrite in place whose mtime was put back moves only the ctime; workers
                # before 2026-12-02 did not send it)
                and ("ctimeNs" not in ident or st.st_ctime_ns == int(ident["ctimeNs"]))
                and st.st_ino == int(ident["ino"])
                and st.st_dev == int(ident["dev"])
            )
        except (OSError, KeyError, TypeError, ValueError):
            same = False
        if not same:
            os.close(fd)
            log.debug("alluxiofs: %s is not the file the worker saw; reading over HTTP", path)
            self._count("fallbacks")
            return None
        return fd

    def _local_range(self, path, start, end):
        """Bytes [start, end) read from the local file when the worker grants it, else
        None (negative offsets: from the end of that file). Errors of the lookup other than "no worker" are left to the HTTP read, which
        reports them in its own words."""
        try:
            details = self._info(path, local=True)
        except WorkersUnavailableError:
            raise
        except (OSError, ValueError):
            return None
        if details.get("type") != "file":
            return None
        fd = self._open_local(details)
        if fd is None:
            return None
        try:
            st0 = os.fstat(fd)
            size = details["size"]  # (the open file's, _open_local checked: offsets from its end are of it)
            if start < 0:
                start = max(0, size + start)
            if end is not None and end < 0:
                end = max(0, size + end)
            stop = size if end is None else min(end, size)
            data = _pread(fd, start, stop) if stop > start else b""
            check_local(fd, st0, path)
        finally:
            os.close(fd)
        self.read_stats.add(local_bytes=len(data))
        self._count("ranges")
        return data

    # ---- reads --------------------------------------------------------------------------

    def _http_range(self, path, start, end, key=None, expect=None, version=None):
        """One ranged GET of bytes [start, end) (end None = to EOF) over HTTP, to the owner
        of ``key`` (the resolved UFS URI; the request URI when None), then the next owners.
        ``expect``: the info of an open file; an answer of another version raises.
        ``version``: a dict that gets the answer's ``size`` and ``etag``."""
        rng = f"bytes={start}-" + ("" if end is None else str(end - 1))
        resp = self.client.request("GET", "file", path, headers={"range": rng, "accept": "*/*"}, owner_key=key or path)
        if resp.status in (200, 206):
            check_served(expect, resp.headers, path)
            if version is not None:
                size = resp.headers.get("x-alluxio-size")
                version.update(size=int(size) if size is not None and str(size).isdigit() else None, etag=resp.headers.get("etag"))
        self.read_stats.add(worker=resp.worker, http_requests=1, http_bytes=len(resp.body) if resp.status in (200, 206) else 0)
        if resp.status == 416:
            # nothing at or past `start`: the end of the file, unless an open file (`expect`)
            # is longer than that: then it was truncated or replaced by a shorter one
            if expect is not None and start < int(expect.get("size") or 0):
                raise UfsVersionMismatchError(errno.ESTALE, f"{path} changed since it was opened (it ends before byte {start} now, not at {expect['size']}); open it again", path)
            if version is not None:
                version.update(past_eof=start)
            return b""
        if resp.status not in (200, 206):
            raise error_from_response(resp.status, resp.body, path)
        if resp.status == 200 and start > 0:  # range ignored: cut it ourselves
            return resp.body[start:end]
        return resp.body

    def _parallel_range(self, path, start, end, key=None, expect=None):
        """Bytes [start, end) over HTTP, in parts on the pool when the range is large. The
        parts are of one version: ``expect``'s, else the answers are compared with each
        other (parts of two versions raise UfsVersionMismatchError, never a mix)."""
        key = key or self._owner_key(path)
        if end is None or end - start < self.parallel_threshold or self._pool.size == 1:
            return self._http_range(path, start, end, key, expect)
        ranges = split_range(start, end, self.part_size)
        versions = [{} for _ in ranges]
        parts = self._pool.map(lambda i: self._http_range(path, ranges[i][0], ranges[i][1], key, expect, versions[i]), range(len(ranges)))
        # parts past the end of the file (a range asked beyond EOF) are no version; unless the
        # file the other parts came from is longer than where they start (it shrank meanwhile)
        seen = {(v.get("size"), v.get("etag")) for v in versions if "past_eof" not in v}
        if len(seen) == 1:
            size = next(iter(seen))[0]
            if size is not None and any(v["past_eof"] < size for v in versions if "past_eof" in v):
                seen.add((None, None))
        if len(seen) > 1:
            raise UfsVersionMismatchError(errno.ESTALE, f"{path} changed while it was read (parts of {len(seen)} versions: size, ETag {sorted(seen, key=str)}); read it again", path)
        return b"".join(parts)

    def _range(self, path, start, end, meta=None, local=True):
        """Bytes [start, end) of a file (end None = to EOF); b"" beyond EOF. ``meta``: the
        info of an open file (its owner, and the version the fallback must find);
        ``local=False``: no short-circuit attempt (an open file knows it has no grant)."""
        if end is not None and end <= start:
            return b""

        def remote():
            if self.short_circuit and local:
                data = self._local_range(path, start, end)
                if data is not None:
                    return data
            if end is not None or start != 0:
                return self._parallel_range(path, start, end, self._owner_key(path, meta), expect=meta)
            # A whole-file read: learn the size, so a large file is fetched in parts; the
            # answers must be of the version that size belongs to (never a mix of one's size
            # and another's bytes). Not of an open file (no meta): when the bytes come back as
            # another version (the file changed, or the info came from a worker whose metadata
            # was older), the info is asked again, of the owner, and the read made once more.
            for again in (False, True):
                try:
                    info = self._info(path)
                    stop = info["size"]
                    expect = meta or {"size": stop, "etag": info.get("etag")}
                except (OSError, ValueError):
                    stop, expect = None, meta
                try:
                    return self._parallel_range(path, start, stop, self._owner_key(path, meta), expect=expect)
                except UfsVersionMismatchError:
                    if again or meta is not None:
                        raise

        return self._read_call(path, remote, lambda fs, target, m: self._ufs_read(fs, target, start, end, m), meta=meta)

    def cat_ranges(self, paths, starts, ends, max_gap=None, on_error="return", batch_size=None, **kwargs):
        """Bytes of many ranges (Parquet footers, column chunks) in one batch: ranges of one
        file closer than ``max_gap`` (default 64 KiB) are merged into one request of at
        most 64 MiB, and the requests run in parallel on the pool's keep-alive connections.
        An error is returned in place of its ranges (``on_error="return"``) or raised."""
        if not isinstance(paths, list):
            raise TypeError("paths must be a list")
        n = len(paths)
        starts = starts if isinstance(starts, list) else [starts] * n
        ends = ends if isinstance(ends, list) else [ends] * n
        if len(starts) != n or len(ends) != n:
            raise ValueError("paths, starts and ends must have the same length")
        gap = 64 * 1024 if max_gap is None else int(max_gap)
        out = [None] * n
        jobs = []  # (path, start, end, [(index, offset, length)])
        by_path = {}
        for i, p in enumerate(paths):
            s, e = starts[i], ends[i]
            if s is None or e is None or s < 0 or e < 0:  # open-ended or from the end: one call each
                jobs.append((p, s, e, None, [i]))
            else:
                by_path.setdefault(self._strip_protocol(p), []).append(i)
        for p, idx in by_path.items():
            for rs, re, members in merge_ranges([starts[i] for i in idx], [ends[i] for i in idx], gap, 64 * MiB):
                jobs.append((p, rs, re, True, [idx[m] for m in members]))

        def run(job):
            p, s, e, merged, members = job
            try:
                data = self.cat_file(p, s, e, **kwargs)
            except Exception as exc:  # noqa: BLE001 - returned or raised below
                return job, exc
            return job, data

        for (p, s, e, merged, members), data in self._pool.map(run, jobs):
            for i in members:
                if isinstance(data, Exception):
                    if on_error != "return":
                        raise data
                    out[i] = data
                elif merged:
                    out[i] = data[starts[i] - s : ends[i] - s]
                else:
                    out[i] = data
        return out

    def cat_file(self, path, start=None, end=None, **kwargs):
        path = self._strip_protocol(path)
        if (start is None or start >= 0) and (end is None or end >= 0):
            return self._range(path, start or 0, end)
        # Offsets from the end name bytes of the version whose size they were taken from: the
        # read is of that version (the info's ETag and size), and a file changed between the
        # two is asked again once. (Until 2026-12-02 the offsets were taken from one version
        # and the bytes from another: "the last 100 bytes" of a file that grew from 1000 to
        # 5000 came back as 4100 bytes, of one that shrank as b"", with no error.)
        if self.short_circuit:
            try:
                data = self._local_range(path, start or 0, end)  # (offsets taken from the file it opens)
            except WorkersUnavailableError:
                data = None
            if data is not None:
                return data
        for again in (False, True):
            info = self._info(path)
            if info.get("type") != "file":
                raise IsADirectoryError(errno.EISDIR, f"{path} is a directory", path)
            size = info["size"]
            s = max(0, size + start) if start is not None and start < 0 else (start or 0)
            e = max(0, size + end) if end is not None and end < 0 else end
            try:
                return self._range(path, s, e, meta=file_meta(info), local=False)
            except UfsVersionMismatchError:
                if again:
                    raise

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kwargs):
        path = self._strip_protocol(path)
        if mode not in ("rb", "wb", "xb"):
            raise ValueError(f"alluxiofs: mode {mode!r} is not supported (use 'rb', 'wb' or 'xb')")
        if mode == "xb":
            # checked at open, not atomic: the REST API has no create-only PUT
            if self.exists(path):
                raise FileExistsError(f"{path} exists (mode 'xb')")
            mode = "wb"
        if mode == "rb":
            kwargs.setdefault("cache_type", self.cache_type)
        block_size = block_size or self.default_block_size
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

    def pipe_file(self, path, value, mode="overwrite", **kwargs):
        path = self._strip_protocol(path)
        if mode == "create" and self.exists(path):  # not atomic: no create-only PUT
            raise FileExistsError(f"{path} exists (mode='create')")
        value = bytes(value)
        return self._put(path, value, len(value))

    def cp_file(self, path1, path2, **kwargs):
        """Copy one file through this client (the REST API has no server-side copy):
        streamed in blocks, then one PUT. A directory becomes a directory."""
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        if self.isdir(path1):
            self.makedirs(path2, exist_ok=True)
            return
        with self.open(path1, "rb") as src, self.open(path2, "wb") as dst:
            while True:
                chunk = src.read(self.default_block_size)
                if not chunk:
                    break
                dst.write(chunk)

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
        """Delete a name, a glob or a list of them, as fsspec's own ``rm`` does: when the
        globs match nothing and no plain name is given, FileNotFoundError (before 2026-12-02
        it deleted nothing and said nothing, so ``rm("/d/h#1?.csv")`` of a gone file
        passed). Deepest names go first, so a recursive glob that matched a directory and
        what is in it does not find the contents gone under it. With ``maxdepth``, only what
        fsspec's ``expand_path`` names that deep is deleted (it was ignored before 2026-12-02,
        and a recursive rm took the whole tree)."""
        if maxdepth is not None:
            # fsspec's own rm: what expand_path names down to maxdepth, deepest first, each
            # one as itself (a directory with more below it is not emptied: DirectoryNotEmpty)
            for p in sorted({self._strip_protocol(t) for t in self.expand_path(path, recursive=recursive, maxdepth=maxdepth)}, reverse=True):
                self._delete(p)
            return
        paths = path if isinstance(path, (list, tuple)) else [path]
        targets = set()
        for p in paths:
            p = self._strip_protocol(p)
            if has_magic(p):
                targets.update(self._strip_protocol(g) for g in self.glob(p))
            else:
                targets.add(p)
        if not targets:
            raise FileNotFoundError(errno.ENOENT, "no such file or directory (nothing matches)", path)
        for p in sorted(targets, reverse=True):  # a directory's contents sort after it
            self._delete(p, recursive=recursive)

    def invalidate_cache(self, path=None):
        pass  # nothing is cached: every call asks a worker (rules may change any time)


def _as_bool(value):
    """A flag given as a bool, or as text by tools whose storage_options are all strings
    (Polars): "0", "false", "no", "off" and "" are False."""
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def _short_circuit_allowed():
    return os.environ.get("ALLUXIO_SHORT_CIRCUIT", "1").strip().lower() not in ("0", "false", "no", "off")


def _register():
    import fsspec

    for name in AlluxioFileSystem.protocol:
        try:
            fsspec.register_implementation(name, AlluxioFileSystem, clobber=True)
        except Exception:  # pragma: no cover - very old fsspec
            pass

