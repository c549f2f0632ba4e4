"""AWS Signature Version 4 for the workers' REST API (docs/rest-api.md, "Authentication").

When a worker is configured with access/secret key pairs (ALLUXIO_S3_CREDENTIALS), every
/api/v1/ data request must be signed, with the same verifier as the S3 API. Signed headers:
host, x-amz-date and x-amz-content-sha256; bodies are never hashed (UNSIGNED-PAYLOAD), so a
file is streamed to the worker as it is read. Standard library only.
"""
import datetime
import hashlib
import hmac
import urllib.parse

__all__ = ["Signer", "UNSIGNED_PAYLOAD"]

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


def _uri_encode(s, keep_slash=False):
    # SigV4: everything but A-Z a-z 0-9 - _ . ~ is %XX (upper-case hex), on UTF-8 bytes
    return urllib.parse.quote(s, safe="-_.~" + ("/" if keep_slash else ""))


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


class Signer:
    """Signs requests with one access/secret key pair for ``region`` and ``service``."""

    def __init__(self, access_key, secret_key, region="us-east-1", service="s3"):
        if not access_key or not secret_key:
            raise ValueError("SigV4 signing needs both an access key and a secret key")
        self.access_key = str(access_key)
        self.secret_key = str(secret_key)
        self.region = str(region or "us-east-1")
        self.service = str(service or "s3")
        self._keys = {}  # date -> signing key

    def _signing_key(self, date):
        k = self._keys.get(date)
        if k is None:
            k = _hmac(("AWS4" + self.secret_key).encode("utf-8"), date)
            for part in (self.region, self.service, "aws4_request"):
                k = _hmac(k, part)
            self._keys = {date: k}
        return k

    def sign(self, method, host, path, query_pairs, now=None):
        """Headers to add to a request: ``host`` (the exact Host header to send),
        ``x-amz-date``, ``x-amz-content-sha256`` and ``authorization``. ``path`` is the raw
        (already encoded) request path; ``query_pairs`` the decoded query parameters."""
        t = now or datetime.datetime.now(datetime.timezone.utc)
        amz_date = t.strftime("%Y%m%dT%H%M%SZ")
        date = amz_date[:8]
        canonical_uri = "/".join(_uri_encode(urllib.parse.unquote(seg)) for seg in path.split("/"))
        canonical_query = "&".join(
            f"{k}={v}" for k, v in sorted((_uri_encode(str(k)), _uri_encode(str(v))) for k, v in query_pairs)
        )
        headers = {"host": host, "x-amz-content-sha256": UNSIGNED_PAYLOAD, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        canonical_headers = "".join(f"{n}:{headers[n]}\n" for n in sorted(headers))
        canonical_request = "\n".join([method, canonical_uri, canonical_query, canonical_headers, signed, UNSIGNED_PAYLOAD])
        scope = f"{date}/{self.region}/{self.service}/aws4_request"
        string_to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])
        signature = hmac.new(self._signing_key(date), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        headers["authorization"] = f"{ALGORITHM} Credential={self.access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
        return headers


def host_header(host, port, default_port=80):
    """The Host header http.client would send for (host, port): no port when it is the
    scheme's default (80 for HTTP, 443 for HTTPS)."""
    h = f"[{host}]" if ":" in host else host
    return h if int(port) == int(default_port) else f"{h}:{int(port)}"
