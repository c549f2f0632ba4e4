"""HTTP access to the workers' REST API: worker discovery (static list or etcd
membership), placement by rendezvous hashing, keep-alive connections per thread, and
retry on the next worker when one fails; SigV4 request signing when the workers require
authentication (sigv4.py). Standard library only.

Two orders (docs/cluster-cache.md, docs/alluxiofs.md): reads of a file go to its OWNER,
the first of ``placement_order(ring, ufs_uri)`` where the ring is the discovered workers
whose membership record says ``"cache": true`` (all workers when none does, and for a
static ``worker_hosts`` list), then the next owners, then the workers outside the ring;
metadata calls use the request URI over all workers."""
import base64
import http.client
import json
import logging
import os
import ssl
import threading
import time
import urllib.parse
import urllib.request

from .errors import UfsUnavailableError, WorkersUnavailableError, error_from_response
from .placement import placement_order
from .sigv4 import Signer, host_header

__all__ = ["WorkerClient", "discover_worker_records", "discover_workers_from_etcd", "make_ssl_context", "parse_hosts"]


def _as_flag(v):
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "on")
    return bool(v)

log = logging.getLogger("alluxiofs")

# Errors that mean "this worker did not answer": try the next one.
_NET_ERRORS = (OSError, http.client.HTTPException)


def _avoiding(headers, failed, read):
    """The headers of a read sent on after workers failed it: ``x-alluxio-avoid`` names them,
    so the next worker does not ask them for the file either (a hung owner would hold it up
    as long again: docs/alluxiofs.md, Failover)."""
    if not failed or not read:
        return headers
    out = dict(headers)
    out["x-alluxio-avoid"] = ",".join(failed)
    return out


def parse_hosts(hosts, default_port):
    """'a,b:1234' -> ['a:<default_port>', 'b:1234'] (IPv6 in brackets: '[::1]:28080');
    'http://a:2379' keeps its scheme."""
    if not hosts:
        return []
    if isinstance(hosts, (list, tuple)):
        items = list(hosts)
    else:
        items = str(hosts).split(",")
    out = []
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        if "://" in item:
            # An endpoint URL as ALLUXIO_ETCD_ENDPOINTS writes it: keep the scheme.
            scheme, _, rest = item.partition("://")
            out.extend(f"{scheme}://{hp}" for hp in parse_hosts([rest.rstrip("/")], default_port))
            continue
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else str(default_port)
            out.append(f"[{host}]:{int(port)}")
        elif item.count(":") == 1:
            host, port = item.split(":")
            out.append(f"{host}:{int(port)}")
        else:
            out.append(f"{item}:{int(default_port)}")
    return out


def _prefix_end(prefix: bytes) -> bytes:
    b = bytearray(prefix)
    for i in range(len(b) - 1, -1, -1):
        if b[i] < 0xFF:
            b[i] += 1
            return bytes(b[: i + 1])
    return b"\x00"


def discover_worker_records(etcd_hosts, etcd_port=2379, cluster="default", timeout=5.0, answered=None):
    """Live worker records from /alluxio/<cluster>/workers/ through etcd's JSON gateway
    (POST /v3/kv/range), as (name, record) pairs where name is 'host:restPort' (the
    placement name); the endpoints are asked in turn. Raises WorkersUnavailableError when
    no etcd answers. ``answered``: a list that gets the endpoint that answered."""
    prefix = f"/alluxio/{cluster}/workers/".encode("utf-8")
    body = json.dumps(
        {
            "key": base64.b64encode(prefix).decode("ascii"),
            "range_end": base64.b64encode(_prefix_end(prefix)).decode("ascii"),
        }
    ).encode("utf-8")
    errors = []
    for ep in parse_hosts(etcd_hosts, etcd_port):
        url = ep if "://" in ep else f"http://{ep}"
        req = urllib.request.Request(url + "/v3/kv/range", data=body, headers={"content-type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                doc = json.loads(resp.read().decode("utf-8"))
        except (OSError, ValueError) as e:
            errors.append(f"{ep}: {e}")
            continue
        records = {}
        for kv in doc.get("kvs") or []:
            try:
                rec = json.loads(base64.b64decode(kv.get("value", "")).decode("utf-8"))
                host, port = rec["host"], int(rec["restPort"])
            except (ValueError, KeyError, TypeError):
                continue  # not a worker record
            records[f"[{host}]:{port}" if ":" in host else f"{host}:{port}"] = rec
        if answered is not None:
            answered.append(ep)
        return sorted(records.items())
    raise WorkersUnavailableError(f"no etcd endpoint answered ({'; '.join(errors) or 'none configured'})")


def discover_workers_from_etcd(etcd_hosts, etcd_port=2379, cluster="default", timeout=5.0, https=False):
    """Live workers ('host:restPort') that can be reached over plain HTTP, or with
    ``https=True`` over HTTPS (those advertising restTlsPort)."""
    return [name for name, rec in discover_worker_records(etcd_hosts, etcd_port, cluster, timeout) if _tls_port(rec, https) is not None]


def _tls_port(rec, https):
    """The port to reach a worker record on: its REST TLS port over HTTPS (None without
    one), its plain REST port over HTTP (None for a TLS-only worker)."""
    if https:
        p = rec.get("restTlsPort")
        if p is None and rec.get("scheme") == "https":
            p = rec.get("restPort")
        return int(p) if p is not None else None
    return None if rec.get("scheme") == "https" else int(rec["restPort"])


def make_ssl_context(ca_bundle=None, client_cert=None, client_key=None):
    """The TLS context for HTTPS to the workers: the system CAs, or ``ca_bundle`` (a PEM
    file, e.g. the CA `alluxio local start --tls` prints); a client certificate when the
    workers require one (--tls-client-ca)."""
    ctx = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    if client_cert:
        ctx.load_cert_chain(client_cert, client_key)
    elif client_key:
        raise ValueError("alluxiofs: client_key needs client_cert")
    return ctx


def _env_first(*names):
    for n in names:
        v = os.environ.get(n)
        if v:
            return v
    return None


def make_signer(access_key=None, secret_key=None, region=None, service="s3"):
    """The request signer for explicit keys, else ALLUXIO_ACCESS_KEY / ALLUXIO_SECRET_KEY,
    else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; None (unsigned requests) when there
    are no keys. The region defaults to ALLUXIO_S3_REGION, else us-east-1."""
    explicit = access_key is not None or secret_key is not None
    if access_key is None:
        access_key = _env_first("ALLUXIO_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
    if secret_key is None:
        secret_key = _env_first("ALLUXIO_SECRET_KEY", "AWS_SECRET_ACCESS_KEY")
    if not access_key or not secret_key:
        if explicit:
            raise ValueError("alluxiofs: access_key and secret_key go together (one of them is missing)")
        return None
    return Signer(access_key, secret_key, region or _env_first("ALLUXIO_S3_REGION") or "us-east-1", service)


class Response:
    __slots__ = ("status", "headers", "body", "worker")

    def __init__(self, status, headers, body, worker):
        self.status = status
        self.headers = headers
        self.body = body
        self.worker = worker

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class WorkerClient:
    """Talks to the workers. Thread-safe: connections are per thread."""

    def __init__(
        self,
        worker_hosts=None,
        worker_http_port=28080,
        etcd_hosts=None,
        etcd_port=2379,
        cluster_name="default",
        timeout=30.0,
        dead_worker_cooldown=10.0,
        membership_refresh_seconds=10.0,
        access_key=None,
        secret_key=None,
        region=None,
        use_https=None,
        ca_bundle=None,
        client_cert=None,
        client_key=None,
    ):
        self.signer = make_signer(access_key, secret_key, region)
        self.worker_http_port = int(worker_http_port)
        items = worker_hosts.split(",") if isinstance(worker_hosts, str) else list(worker_hosts or [])
        https_hosts = [str(i).strip() for i in items if str(i).strip().lower().startswith("https://")]
        plain = [str(i).strip()[len("http://"):] if str(i).strip().lower().startswith("http://") else i for i in items if i not in https_hosts]
        self.static_workers = parse_hosts(plain + [h[len("https://"):] for h in https_hosts], self.worker_http_port)
        ca_bundle = ca_bundle or os.environ.get("ALLUXIO_CA_BUNDLE") or None
        if use_https is None:
            use_https = bool(https_hosts or ca_bundle or client_cert)
        self.https = _as_flag(use_https)
        if https_hosts and not self.https:
            raise ValueError("alluxiofs: https:// worker_hosts with use_https=False")
        self._ssl = make_ssl_context(ca_bundle, client_cert, client_key) if self.https else None
        # placement name -> port to connect to (differs from the name's port over HTTPS)
        self._ports = {}
        self.etcd_hosts = etcd_hosts
        self.etcd_port = int(etcd_port)
        self.cluster_name = cluster_name
        self.timeout = float(timeout)
        self.cooldown = float(dead_worker_cooldown)
        self.refresh_every = float(membership_refresh_seconds)
        if not self.static_workers and not etcd_hosts:
            raise ValueError("alluxiofs needs worker_hosts or etcd_hosts")
        self._lock = threading.Lock()
        self._dead = {}  # worker -> monotonic time until which it is skipped
        self._members = None
        self._members_at = 0.0
        # the pid of the process whose background thread refreshes the membership, or None
        # (a pid, not a flag: a child forked meanwhile has no such thread, and starts its own)
        self._refreshing = None
        self._members_from = 0.0  # when the lookup that gave the kept membership started
        self._etcd_first = None  # the etcd endpoint that answered last: asked first next time
        self._caching = frozenset()  # discovered workers whose record says "cache": true
        self._local = threading.local()

    # ---- membership ---------------------------------------------------------------

    def workers(self, refresh=False):
        """The workers to ask. Once some are known, a membership older than
        ``membership_refresh_seconds`` is refreshed in the background and the known ones
        answer meanwhile: a hung etcd (up to 5 s per endpoint) never holds a read. Only the
        first discovery, and ``refresh`` (every known worker failed), wait for etcd."""
        if not self.etcd_hosts:
            return list(self.static_workers)
        with self._lock:
            known = self._members
            stale = known is None or refresh or time.monotonic() - self._members_at > self.refresh_every
            if stale and known is not None and not refresh:
                if self._refreshing != os.getpid():
                    self._refreshing = os.getpid()
                    try:
                        threading.Thread(target=self._refresh_in_background, name="alluxiofs-membership", daemon=True).start()
                    except RuntimeError:  # (no thread can be started: the next call tries again)
                        self._refreshing = None
                return list(known or self.static_workers)
        if stale:
            known = self._refresh()
            if known is not None:
                return known
        return list(self._members or self.static_workers)

    def _refresh_in_background(self):
        try:
            self._refresh()
        except Exception as e:  # (the known workers keep serving; the next refresh tries again)
            log.debug("alluxiofs: membership refresh failed: %s", e)
        finally:
            with self._lock:
                self._refreshing = None

    def _refresh(self):
        """Ask etcd for the workers and keep them, stamped when the answer came (a slow
        answer is not stale on arrival). On failure the known workers stay, and etcd is
        asked again after ``membership_refresh_seconds``. Returns the workers to use when
        they are not the ones kept."""
        started = time.monotonic()
        hosts = parse_hosts(self.etcd_hosts, self.etcd_port)
        first = self._etcd_first
        if first in hosts:  # the endpoint that answered last first: a hung one is not asked first every time
            hosts = [first] + [h for h in hosts if h != first]
        try:
            answered = []
            records = discover_worker_records(hosts, self.etcd_port, self.cluster_name, timeout=min(self.timeout, 5.0), answered=answered)
            self._etcd_first = answered[0] if answered else None
            members, caching = [], set()
            for name, rec in records:
                port = _tls_port(rec, self.https)
                if port is None:
                    log.debug("alluxiofs: worker %s has no %s REST port; skipped", name, "HTTPS" if self.https else "plain HTTP")
                    continue
                self._ports[name] = port
                members.append(name)
                if rec.get("cache") is True:
                    caching.add(name)
        except WorkersUnavailableError:
            if self._members is None and not self.static_workers:
                raise
            members = self._members if self._members is not None else list(self.static_workers)
            caching = self._caching
        if not members and self._members:
            # None registered, though workers answered a moment ago: after an etcd outage
            # longer than their lease they register again within a few seconds. Keep the
            # workers known (a dead one fails over as usual) and ask etcd again in a second.
            with self._lock:
                self._members_at = time.monotonic() - max(0.0, self.refresh_every - 1.0)
            return list(self._members)
        with self._lock:
            # (a lookup that began before the one kept, and ended after it, is older news)
            if started >= self._members_from:
                self._members, self._members_at, self._caching, self._members_from = members, time.monotonic(), frozenset(caching), started
        return None

    def _no_workers(self):
        """Why there was no worker to ask, in words a user can act on."""
        if self.etcd_hosts:
            return f"no workers known: none is registered in etcd under cluster {self.cluster_name!r} (/alluxio/{self.cluster_name}/workers/); check cluster_name and that workers run"
        return "no workers known"

    def ring(self, refresh=False):
        """The ownership ring (docs/cluster-cache.md): the discovered workers whose record
        says ``"cache": true``; all workers when none does (or for a static list)."""
        members = self.workers(refresh=refresh)
        with self._lock:
            caching = self._caching
        ring = [w for w in members if w in caching]
        return ring or members

    def order(self, key, refresh=False, owners=False):
        """Workers for ``key``: live ones in rendezvous order, then recently failed ones.
        With ``owners`` (reads of a file, ``key`` its resolved UFS URI): the ring's order
        (owner first, then the next owners), then the workers outside the ring."""
        if owners:
            members = self.workers(refresh=refresh)
            ring = self.ring()
            ws = placement_order(ring, key) + placement_order([w for w in members if w not in ring], key)
        else:
            ws = placement_order(self.workers(refresh=refresh), key)
        now = time.monotonic()
        with self._lock:
            live = [w for w in ws if self._dead.get(w, 0) <= now]
            dead = [w for w in ws if self._dead.get(w, 0) > now]
        return live + dead

    def _mark_dead(self, worker):
        with self._lock:
            self._dead[worker] = time.monotonic() + self.cooldown

    def _dead_now(self):
        """The workers in their cooldown (failed moments ago), for x-alluxio-avoid."""
        now = time.monotonic()
        with self._lock:
            return [w for w, until in self._dead.items() if until > now]

    def _mark_alive(self, worker):
        if worker in self._dead:
            with self._lock:
                self._dead.pop(worker, None)

    # ---- HTTP ---------------------------------------------------------------------

    def _conns(self):
        # Per thread, and per process: after fork() a child never reuses the parent's
        # keep-alive sockets (two processes reading one socket would mix responses).
        c = getattr(self._local, "conns", None)
        if c is None or self._local.pid != os.getpid():
            c = self._local.conns = {}
            self._local.pid = os.getpid()
        return c

    def _conn(self, worker, fresh):
        conns = self._conns()
        conn = conns.get(worker)
        if conn is not None and fresh:
            conn.close()
            conn = None
        if conn is None:
            conn = self._new_conn(worker)
            conn._alluxio_used = False
            conns[worker] = conn
        return conn

    def _endpoint(self, worker):
        """(host, port) to connect to for a worker's placement name."""
        host, _, port = worker.rpartition(":")
        return host.strip("[]"), self._ports.get(worker, int(port))

    def _new_conn(self, worker):
        host, port = self._endpoint(worker)
        if self._ssl is not None:
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._ssl, blocksize=1 << 20)
        return http.client.HTTPConnection(host, port, timeout=self.timeout, blocksize=1 << 20)

    def _drop(self, worker):
        conn = self._conns().pop(worker, None)
        if conn is not None:
            conn.close()

    def _signed(self, worker, method, target, headers):
        """``headers`` plus the SigV4 headers for this request to ``worker`` (when keys are set)."""
        if self.signer is None:
            return headers
        host, port = self._endpoint(worker)
        parts = urllib.parse.urlsplit(target)
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        out = dict(headers)
        out.update(self.signer.sign(method, host_header(host, port, 443 if self._ssl is not None else 80), parts.path, pairs))
        return out

    def _once(self, worker, method, target, headers, body, fresh):
        conn = self._conn(worker, fresh)
        reused = conn._alluxio_used
        try:
            if hasattr(body, "seek"):
                body.seek(0)
            conn.request(method, target, body=body, headers=self._signed(worker, method, target, headers))
            resp = conn.getresponse()
            data = resp.read()
        except BaseException:
            self._drop(worker)
            raise
        conn._alluxio_used = True
        if resp.will_close:
            self._drop(worker)
        return Response(resp.status, resp.headers, data, worker), reused

    def owner_order(self, ufs_uri, refresh=False):
        """The workers a read of the file with this resolved UFS URI is sent to, in order:
        the owner first (docs/cluster-cache.md). Dead workers still count until their
        cooldown ends (they go last)."""
        return self.order(ufs_uri, refresh=refresh, owners=True)

    def _candidates(self, key, owners=False):
        """The workers for ``key`` in placement order (``owners``: the read order of
        ``order``), each once; when the membership comes from etcd and all of them failed,
        it is refreshed once and any new ones follow."""
        tried = set()
        for refresh in (False, True):
            for worker in self.order(key, refresh=refresh, owners=owners):
                if worker in tried:
                    continue
                tried.add(worker)
                yield worker
            if not self.etcd_hosts:
                break

    def _give_up(self, worker, failures, why, what):
        """Record why ``worker`` did not serve, log it and mark it dead (the caller moves on).
        A worker that answered that its UFS is unavailable is not dead: it is not marked."""
        failures.append(f"{worker}: {why}")
        log.warning("alluxiofs: worker %s " + what + " (%s); trying the next one", worker, why)
        if getattr(why, "code", None) != "UfsUnavailable":
            self._mark_dead(worker)

    def _unavailable(self, uri, failures):
        """The error when no worker served: UfsUnavailableError when every one of them
        answered that the UFS is unavailable, else WorkersUnavailableError."""
        text = f"no worker could serve {uri}: " + "; ".join(str(f) for f in failures or [self._no_workers()])
        if failures and all("[UfsUnavailable]" in str(f) for f in failures):
            return UfsUnavailableError(f"the UFS behind {uri} is unavailable (every worker tried says so): " + "; ".join(str(f) for f in failures))
        return WorkersUnavailableError(text)

    def request(self, method, endpoint, uri, params=None, headers=None, body=None, owner_key=None):
        """One REST call for ``uri``, on the worker chosen for it, retried on the next
        worker when one does not answer (connection error, timeout, 503). Returns the
        Response of the first worker that answered (any status but 503). With
        ``owner_key`` (a read: the file's resolved UFS URI) the workers are tried in the
        ring's order for that key, owner first; otherwise by ``uri`` over all workers."""
        query = {"uri": uri}
        if params:
            query.update(params)
        target = f"/api/v1/{endpoint}?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote, safe="")
        hdrs = {"accept": "application/json"}
        if headers:
            hdrs.update(headers)
        failures = []
        # (workers this read failed on, and those that failed moments ago: the next worker
        # should not wait on them either)
        failed = self._dead_now() if owner_key is not None else []
        key = uri if owner_key is None else owner_key
        for worker in self._candidates(key, owners=owner_key is not None):
            fresh = False
            for attempt in (0, 1):
                prev = self._conns().get(worker)
                reused = prev is not None and prev._alluxio_used and not fresh
                try:
                    resp, _ = self._once(worker, method, target, _avoiding(hdrs, failed, owner_key), body, fresh)
                except _NET_ERRORS as e:
                    # a keep-alive connection the worker may have closed, or a read the worker
                    # cut after its headers (it is alive: the file changed under the read):
                    # once more, fresh, before the worker is given up
                    cut = isinstance(e, http.client.IncompleteRead) and method == "GET"
                    if attempt == 0 and (reused or cut) and not isinstance(e, TimeoutError):
                        fresh = True
                        continue
                    self._give_up(worker, failures, f"{type(e).__name__}: {e}", "failed")
                    failed.append(worker)
                    break
                if resp.status == 503:
                    self._give_up(worker, failures, error_from_response(resp.status, resp.body, uri), "is unavailable")
                    failed.append(worker)
                    break
                self._mark_alive(worker)
                return resp
        raise self._unavailable(uri, failures)

    def open_stream(self, uri, start, owner_key=None):
        """Open ``GET /api/v1/file`` from byte ``start`` to EOF on a dedicated connection
        (for sequential reads: the body is read as it arrives, no request per block).
        Returns (connection, response), or None when ``start`` is at or past EOF. Tries
        the workers in the read order of ``owner_key`` (the file's resolved UFS URI; the
        request URI when unknown), owner first. The response's ``alluxio_worker`` names
        the worker that answered."""
        target = "/api/v1/file?" + urllib.parse.urlencode({"uri": uri}, quote_via=urllib.parse.quote, safe="")
        failures = []
        failed = self._dead_now()
        for worker in self._candidates(uri if owner_key is None else owner_key, owners=True):
            conn = self._new_conn(worker)
            try:
                conn.request("GET", target, headers=self._signed(worker, "GET", target, _avoiding({"range": f"bytes={start}-", "accept": "*/*"}, failed, True)))
                resp = conn.getresponse()
            except _NET_ERRORS as e:
                conn.close()
                self._give_up(worker, failures, f"{type(e).__name__}: {e}", "failed")
                failed.append(worker)
                continue
            if resp.status in (200, 206):
                self._mark_alive(worker)
                resp.alluxio_worker = worker
                return conn, resp
            body = resp.read()
            conn.close()
            if resp.status == 503:
                self._give_up(worker, failures, error_from_response(resp.status, body, uri), "is unavailable")
                failed.append(worker)
                continue
            if resp.status == 416:
                return None
            raise error_from_response(resp.status, body, uri)
        raise self._unavailable(uri, failures)

    def call(self, method, endpoint, uri, params=None, headers=None, body=None, ok=(200, 201, 204, 206), owner_key=None):
        resp = self.request(method, endpoint, uri, params=params, headers=headers, body=body, owner_key=owner_key)
        if resp.status not in ok:
            raise error_from_response(resp.status, resp.body, uri)
        return resp

    def close(self):
        for conn in self._conns().values():
            conn.close()
        self._conns().clear()

