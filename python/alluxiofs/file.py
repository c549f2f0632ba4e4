"""AlluxioFile: the file object of AlluxioFileSystem (buffered reads over HTTP with a
streamed GET for sequential reads and parallel parts for large ones, positional reads of
the local file when short-circuited, spooled writes sent in one PUT on close).

The info asked at open gives the file's resolved UFS URI: every read of the file goes to
its owner (docs/cluster-cache.md) with no further round trip, and the UFS fallback reads
exactly that file, of that version."""
import errno
import http.client
import logging
import os
import tempfile

from fsspec.spec import AbstractBufferedFile

from .errors import UfsVersionMismatchError, WorkersUnavailableError
from .ufs import check_served, file_meta

__all__ = ["AlluxioFile"]

log = logging.getLogger("alluxiofs")

MiB = 1 << 20


def check_local(fd, st0, path):
    """Raise UfsVersionMismatchError when the local file open as ``fd`` no longer holds the
    bytes it had when ``st0`` (its fstat then) was taken: rewritten in place or truncated,
    which the descriptor would otherwise read as the new bytes after the old ones. Called
    after each read, so a read that raced a rewrite is not handed out."""
    st = os.fstat(fd)
    # other bytes where the file had them: it shrank, or at the same size its mtime moved (a
    # rewrite in place) or its ctime did while it kept its name (a rewrite whose mtime was put
    # back: cp -p, touch -r, rsync --inplace; a chmod or rename looks the same, and over HTTP
    # either is another version too). An append, or an unlink or a replacement by a rename
    # (no links left), leaves the bytes opened as they were.
    same_size = st.st_size == st0.st_size
    if st.st_size < st0.st_size or (same_size and (st.st_mtime_ns != st0.st_mtime_ns or (st.st_ctime_ns != st0.st_ctime_ns and st.st_nlink > 0))):
        raise UfsVersionMismatchError(errno.ESTALE, f"{path} changed while it was read (the local file was rewritten or truncated: size {st.st_size}, {st0.st_size} when opened); open it again", path)


def _pread(fd, start, end):
    """Bytes [start, end) of an open file (fewer only at EOF: the file shrank)."""
    want = end - start
    data = os.pread(fd, want, start)
    if len(data) == want or not data:
        return data
    parts, got = [data], len(data)
    while got < want:
        more = os.pread(fd, want - got, start + got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class AlluxioFile(AbstractBufferedFile):
    """A file of AlluxioFileSystem: reads are buffered ranged GETs (read-ahead of
    ``block_size``), or, short-circuited, positional reads of the local file the worker
    named (``short_circuited``, ``local_path``); writes are spooled locally and sent in
    one streamed PUT on close."""

    DEFAULT_BLOCK_SIZE = 8 * MiB

    def __init__(self, fs, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kwargs):
        size = kwargs.pop("size", None)
        self._local_fd = None
        self.local_path = None
        self.short_circuited = False  # True when read from the local file, not over HTTP
        self._meta = None  # the info at open: resolved UFS URI (the owner's key), size, version
        if mode == "rb" and size is None:
            details = fs._info(path, local=fs.short_circuit)
            if details["type"] == "directory":
                raise IsADirectoryError(21, "is a directory", path)
            size = details["size"]
            self._details = details
            self._meta = file_meta(details)
            self._local_fd = fs._open_local(details)
            if self._local_fd is not None:
                self._local_st = os.fstat(self._local_fd)
                self.local_path = details["localPath"]
                self.short_circuited = True
                fs._count("opens")
        self._line_block = None  # (offset, bytes) readuntil fetched and has not used up
        self._stream = None  # (connection, response) of a sequential read
        self._stream_pos = 0
        self._stream_failed = False
        self._last_end = 0
        self._spool = None
        try:
            super().__init__(fs, path, mode=mode, block_size=block_size, autocommit=autocommit, cache_options=cache_options, size=size, **kwargs)
        except BaseException:
            # (an unknown cache_type, say): the local file opened above is not left open
            if self._local_fd is not None:
                os.close(self._local_fd)
                self._local_fd = None
            raise

    def read(self, length=-1):
        """As AbstractBufferedFile.read; short-circuited, one positional read of the local
        file per call (the kernel's page cache and read-ahead take the place of ours)."""
        if self._local_fd is None:
            return super().read(length)
        length = -1 if length is None else int(length)
        if self.mode != "rb":
            raise ValueError("File not in read mode")
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if length < 0:
            length = self.size - self.loc
        end = min(self.loc + length, self.size)
        if end <= self.loc:
            return b""
        out = _pread(self._local_fd, self.loc, end)
        check_local(self._local_fd, self._local_st, self.path)
        if len(out) < end - self.loc:  # EOF before the size read at open, with the same stat: cannot be; say so
            raise UfsVersionMismatchError(errno.ESTALE, f"{self.path} ends at byte {self.loc + len(out)}, not {self.size}; open it again", self.path)
        self.fs.read_stats.add(local_bytes=len(out))
        self.loc += len(out)
        return out

    def readuntil(self, char=b"\n", blocks=None):
        """As AbstractBufferedFile.readuntil (``readline`` and line iteration use it), but the
        block fetched to find the delimiter is kept for the lines after it. fsspec's own
        fetches ``block_size`` bytes per line and seeks back to after the delimiter: with
        no block cache (``cache_type="none"``, the default) every line cost one 8 MiB
        fetch, 1,442 MiB for 5,000 lines of a 604 KB file (2026-12-03)."""
        if self.mode != "rb" or len(char) != 1:
            return super().readuntil(char, blocks)
        out = []
        while True:
            pos = self.loc
            held = self._line_block
            if held is None or not (held[0] <= pos < held[0] + len(held[1])):
                data = self.read(blocks or self.blocksize)  # (from self.loc; moves it)
                if not data:
                    break
                held = self._line_block = (pos, data)
            start, data = held
            off = pos - start
            found = data.find(char, off)
            if found > -1:
                out.append(data[off : found + 1])
                self.loc = start + found + 1
                break
            out.append(data[off:])
            self.loc = start + len(data)
        return b"".join(out)

    def readinto(self, b):
        """As AbstractBufferedFile.readinto; short-circuited, straight into ``b``."""
        if self._local_fd is None or not hasattr(os, "preadv"):
            return super().readinto(b)
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        out = memoryview(b).cast("B")
        want = min(out.nbytes, max(0, self.size - self.loc))
        got = 0
        while got < want:
            n = os.preadv(self._local_fd, [out[got:want]], self.loc + got)
            if n <= 0:
                break
            got += n
        check_local(self._local_fd, self._local_st, self.path)
        if got < want:
            raise UfsVersionMismatchError(errno.ESTALE, f"{self.path} ends at byte {self.loc + got}, not {self.size}; open it again", self.path)
        self.loc += got
        self.fs.read_stats.add(local_bytes=got)
        return got

    def _fetch_range(self, start, end):
        """Bytes [start, end). Short-circuited: a positional read of the local file.
        Otherwise a read that continues where the previous one ended is served from one
        streamed GET to EOF (no request per block, the worker keeps sending); any other
        read is one bounded ranged GET. A stream that breaks (worker gone) is reopened
        where it broke, on the next worker."""
        end = min(end, self.size)
        if end <= start:
            return b""
        if self._local_fd is not None:
            data = _pread(self._local_fd, start, end)
            check_local(self._local_fd, self._local_st, self.path)
            if len(data) < end - start:  # EOF before the size read at open: the file shrank
                raise UfsVersionMismatchError(errno.ESTALE, f"{self.path} changed while it was read (it ends at byte {start + len(data)} now, not {self.size}); open it again", self.path)
            self.fs.read_stats.add(local_bytes=len(data))
            return data
        sequential = start == self._last_end
        self._last_end = end
        fs, meta = self.fs, self._meta
        key = fs._owner_key(self.path, meta)
        if end - start >= fs.parallel_threshold and fs._pool.size > 1:
            # a large read: parts fetched in parallel (the stream, if any, stays where it is)
            return fs._read_call(
                self.path, lambda: fs._parallel_range(self.path, start, end, key, expect=meta), lambda ufs, target, m: fs._ufs_read(ufs, target, start, end, m), meta=meta
            )
        if not sequential or self._stream_failed:
            self._close_stream()
            return fs._range(self.path, start, end, meta=meta, local=False)
        parts = []
        pos = start
        attempts = 2 + len(fs.client.workers())
        while pos < end and attempts > 0:
            if self._stream is None or self._stream_pos != pos:
                self._close_stream()
                try:
                    opened = fs.client.open_stream(self.path, pos, owner_key=key)
                except WorkersUnavailableError:
                    self._stream_failed = True
                    parts.append(fs._range(self.path, pos, end, meta=meta, local=False))  # the UFS, when fallback is on
                    break
                if opened is None:
                    # at EOF before the size this open file read: another, shorter version
                    # (its first bytes were the old one's: never handed out as a short read)
                    self._stream_failed = True
                    raise UfsVersionMismatchError(errno.ESTALE, f"{self.path} changed while it was read (it ends at byte {pos} now, not {self.size}); open it again", self.path)
                try:
                    check_served(meta, opened[1].headers, self.path)
                except Exception:
                    opened[0].close()
                    raise
                self._stream, self._stream_pos = opened, pos
                self.fs.read_stats.add(http_requests=1)
            try:
                data = self._stream[1].read(end - pos)
            except (OSError, http.client.HTTPException) as e:
                data, err = b"", e
            else:
                err = None
            if data:
                fs.read_stats.add(worker=getattr(self._stream[1], "alluxio_worker", None), http_bytes=len(data))
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
            if self._local_fd is not None:
                fd, self._local_fd = self._local_fd, None
                os.close(fd)
