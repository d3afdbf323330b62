"""The optional S3 back end for version blobs (and, later, published copies): one option, one class.

:class:`S3Options` is the whole configuration, parsed from one URL (the value of
``CollabServer.versions_s3_url``)::

    s3://[ACCESS_KEY_ID:SECRET@]BUCKET[/PREFIX][?endpoint=URL&region=R&profile=P&addressing=path
        &connect_timeout=S&read_timeout=S&max_attempts=N&concurrency=N&cache_mb=M]

Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, the
shared credentials file and ``profile=``, an instance or container role) unless the URL carries
a key and secret (percent-encoded); they never appear in ``repr``, ``str`` or an error.

:class:`S3Blobs` implements :class:`~collab_server.versions.blobs.BlobBackend`: objects are
named ``{prefix}{sha256}`` (the store's content keys), written once (a conditional PUT: a key
already there is left alone), read concurrently, deleted in batches of 1,000; the recently used
ones stay in memory (``cache_mb``: a key's bytes never change). S3 does not join the SQLite
transaction (``transactional = False``), so the store writes objects before committing the
index that references them and deletes them only after committing the index that no longer
does. Failures become :class:`S3Error`, an ``OSError`` whose message says what is wrong (no
such bucket, access denied, endpoint unreachable, no credentials) and holds no secret.

Blocking: boto3 is synchronous. The server never calls it on the event loop: the service uses
the store's ``add_async`` / ``get_async`` / ``forget_async`` / ``apply_retention_async``, which
run this back end's calls in worker threads (``asyncio.to_thread``) and never inside a SQLite
transaction (blobs the index lacks are uploaded *before* ``BEGIN IMMEDIATE``; the transaction
re-checks). Those changes run one at a time (an ``asyncio.Lock`` in the store): a ``forget``
deleting key K after its commit, interleaved with an ``add`` of a cell with key K (absent from
the index, so uploaded; present in the bucket, so the conditional PUT is skipped), would leave
the new version without K's bytes. The synchronous methods stay for tools and tests.

Sharing: deletions follow one database's index, so each database needs a prefix of its own
(:meth:`S3Options.under` gives each user of the bucket one); two servers with separate
databases on one prefix would delete each other's blobs.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlsplit

T = TypeVar("T")

Addressing = Literal["auto", "path", "virtual"]

# S3's rule for new buckets (lower case, digits, dots, hyphens; 3-63 characters).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_QUERY_KEYS = {
    "endpoint",
    "region",
    "profile",
    "addressing",
    "connect_timeout",
    "read_timeout",
    "max_attempts",
    "concurrency",
    "cache_mb",
}
# DeleteObjects takes at most 1,000 keys a request.
_DELETE_BATCH = 1000
_CONTENT_TYPE = "application/octet-stream"  # zlib-compressed canonical JSON


@dataclass(frozen=True)
class S3Options:
    """Where and how to reach the bucket; build it with :meth:`from_url`."""

    bucket: str
    prefix: str = ""  # "" or ends with "/"
    endpoint_url: str | None = None  # None: AWS itself
    region: str | None = None  # None: boto3's chain (AWS_DEFAULT_REGION, the profile…)
    profile: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    addressing: Addressing = "auto"
    # Bounded so that an unreachable endpoint fails in seconds, not after botocore's
    # 60-second defaults times its retries.
    connect_timeout: float = 3.0
    read_timeout: float = 20.0
    max_attempts: int = 3  # total tries per request, the first included
    concurrency: int = 16  # parallel requests of one put_many / get_many
    # Blobs never change under their key, so recently read or written ones are kept in memory:
    # a diff or restore reads two versions that share most cells. 0 turns it off.
    cache_mb: float = 32.0

    @classmethod
    def from_url(cls, url: str) -> S3Options:
        """Parse ``s3://[key:secret@]bucket[/prefix][?option=value&…]``; ValueError if bad."""
        parts = urlsplit(url.strip())
        if parts.scheme != "s3":
            raise ValueError("the versions S3 URL must start with s3:// (s3://bucket/prefix)")
        # Not ``parts.hostname``: it lower-cases, and "MyBucket" must fail, not name another.
        bucket = parts.netloc.rpartition("@")[2]
        if not _BUCKET.match(bucket):
            raise ValueError(
                f"{bucket!r} is not an S3 bucket name (3-63 lower-case letters, digits, dots"
                " and hyphens)"
            )
        key_id = unquote(parts.username) if parts.username else None
        secret = unquote(parts.password) if parts.password else None
        if (key_id is None) != (secret is None):
            raise ValueError("give both an access key id and a secret (key:secret@bucket), or none")
        query: dict[str, str] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name not in _QUERY_KEYS:
                known = ", ".join(sorted(_QUERY_KEYS))
                raise ValueError(f"unknown option {name!r} in the versions S3 URL (known: {known})")
            query[name] = value
        endpoint = query.get("endpoint") or None
        if endpoint is not None:
            ep = urlsplit(endpoint)
            if ep.scheme not in ("http", "https") or not ep.hostname:
                raise ValueError("endpoint must be an http:// or https:// URL")
        addressing = query.get("addressing") or ("path" if endpoint else "auto")
        if addressing not in ("auto", "path", "virtual"):
            raise ValueError("addressing must be auto, path or virtual")
        options = cls(
            bucket=bucket,
            prefix=_prefix(parts.path),
            endpoint_url=endpoint,
            region=query.get("region") or None,
            profile=query.get("profile") or None,
            access_key_id=key_id,
            secret_access_key=secret,
            addressing=addressing,  # type: ignore[arg-type]  # checked just above
            connect_timeout=_number(query, "connect_timeout", cls.connect_timeout, float),
            read_timeout=_number(query, "read_timeout", cls.read_timeout, float),
            max_attempts=_number(query, "max_attempts", cls.max_attempts, int),
            concurrency=_number(query, "concurrency", cls.concurrency, int),
            cache_mb=_number(query, "cache_mb", cls.cache_mb, float, zero=True),
        )
        return options

    def under(self, name: str) -> S3Options:
        """The same bucket with ``name/`` appended to the prefix (``versions``, ``published``).

        Each user of the bucket gets its own sub-prefix: blob deletion is driven by one index,
        so two indexes must never share a key space.
        """
        return replace(self, prefix=self.prefix + _prefix(name))

    def where(self) -> str:
        """The bucket and endpoint, for messages (no credentials)."""
        endpoint = _public_endpoint(self.endpoint_url) if self.endpoint_url else "AWS"
        return f"S3 bucket {self.bucket!r} at {endpoint}"

    def __str__(self) -> str:
        # The URL without credentials, safe to log.
        query = {"endpoint": _public_endpoint(self.endpoint_url)} if self.endpoint_url else {}
        if self.region:
            query["region"] = self.region
        tail = "&".join(f"{k}={quote(v, safe=':/')}" for k, v in query.items())
        return f"s3://{self.bucket}/{self.prefix}" + (f"?{tail}" if tail else "")


def _prefix(path: str) -> str:
    cleaned = "/".join(p for p in path.split("/") if p)
    return f"{cleaned}/" if cleaned else ""


def _number(
    query: dict[str, str], name: str, default: T, kind: Callable[[str], T], zero: bool = False
) -> T:
    if name not in query:
        return default
    try:
        value = kind(query[name])
    except ValueError:
        raise ValueError(f"{name} must be a number, not {query[name]!r}") from None
    if not (value >= 0 if zero else value > 0):  # type: ignore[operator]
        raise ValueError(f"{name} must be {'zero or more' if zero else 'positive'}")
    return value


def _public_endpoint(url: str | None) -> str:
    """An endpoint URL without any user:password part."""
    if not url:
        return "AWS"
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


class _Recent:
    """The most recently used blobs, up to ``limit`` bytes in all (thread-safe)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: str, data: bytes) -> None:
        # One large blob (a cell full of images) must not flush everything else.
        if len(data) > self._limit // 8:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self._size += len(data) - (len(old) if old is not None else 0)
            self._items[key] = data
            while self._size > self._limit:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def drop(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                old = self._items.pop(key, None)
                if old is not None:
                    self._size -= len(old)


class S3Error(OSError):
    """The bucket cannot be used; ``reason`` is one of ``no-bucket``, ``access-denied``,
    ``unreachable``, ``no-credentials``, ``wrong-region``, ``error``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class S3Blobs:
    """Version blobs as objects ``{prefix}{key}`` in one bucket (see the module docstring)."""

    transactional = False

    def __init__(self, options: S3Options) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                "the S3 back end needs boto3: pip install 'collab-server[s3]'"
            ) from None
        self.options = options
        config = Config(
            connect_timeout=options.connect_timeout,
            read_timeout=options.read_timeout,
            retries={"max_attempts": options.max_attempts, "mode": "standard"},
            max_pool_connections=options.concurrency,
            s3={"addressing_style": options.addressing},
            # Other S3 implementations (MinIO, Ceph, R2…) do not all accept the checksum
            # headers botocore adds by default since 1.36; the keys are content hashes anyway.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        try:
            session = boto3.session.Session(
                aws_access_key_id=options.access_key_id,
                aws_secret_access_key=options.secret_access_key,
                profile_name=options.profile,
                region_name=options.region,
            )
            self._client: Any = session.client(
                "s3", endpoint_url=options.endpoint_url, config=config
            )
        except Exception as exc:  # botocore: ProfileNotFound, bad region/endpoint…
            raise self._explain(exc, "connect") from None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._conditional_put = True
        self._recent = _Recent(int(options.cache_mb * 1024 * 1024))

    # -- the BlobBackend protocol --------------------------------------------------------

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        self._each(lambda item: self._put(*item), list(dict(items).items()))

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes | None] = {k: self._recent.get(k) for k in dict.fromkeys(keys)}
        fetch = [k for k, v in found.items() if v is None]
        found.update(zip(fetch, self._each(self._get, fetch), strict=True))
        missing = [k for k, v in found.items() if v is None]
        if missing:
            raise KeyError(f"{len(missing)} version blob(s) missing, e.g. {missing[0]}")
        return {k: v for k, v in found.items() if v is not None}

    def delete(self, keys: Iterable[str]) -> None:
        unique = list(dict.fromkeys(keys))
        self._recent.drop(unique)
        names = [self.options.prefix + k for k in unique]
        for start in range(0, len(names), _DELETE_BATCH):
            chunk = names[start : start + _DELETE_BATCH]
            try:
                answer = self._client.delete_objects(
                    Bucket=self.options.bucket,
                    Delete={"Objects": [{"Key": n} for n in chunk], "Quiet": True},
                )
            except Exception as exc:
                raise self._explain(exc, "delete") from None
            errors = answer.get("Errors") or []
            if errors:
                code = errors[0].get("Code", "error")
                raise S3Error(
                    "access-denied" if code == "AccessDenied" else "error",
                    f"{len(errors)} object(s) of {self.options.where()} could not be deleted"
                    f" ({code})",
                )

    # -- beyond the protocol -------------------------------------------------------------

    def check(self) -> None:
        """Raise :class:`S3Error` unless the bucket is reachable with these credentials.

        For start-up, so that a wrong bucket or key fails the server at once, not at the
        first save.
        """
        try:
            self._client.head_bucket(Bucket=self.options.bucket)
        except Exception as exc:
            raise self._explain(exc, "check") from None

    def keys(self) -> Iterator[str]:
        """The content keys stored under the prefix (for a sweep of orphans, and tests)."""
        for name, _size in self._list():
            yield name[len(self.options.prefix) :]

    def stored_bytes(self) -> int:
        """Bytes held under the prefix (for measurements and tests)."""
        return sum(size for _name, size in self._list())

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        self._client.close()

    # -- requests ------------------------------------------------------------------------

    def _put(self, key: str, data: bytes) -> None:
        args: dict[str, Any] = {
            "Bucket": self.options.bucket,
            "Key": self.options.prefix + key,
            "Body": data,
            "ContentType": _CONTENT_TYPE,
        }
        if self._conditional_put:
            # Write only if absent: the server skips an existing object (same key, same
            # content), and a versioned bucket does not grow a copy per retry.
            args["IfNoneMatch"] = "*"
        try:
            self._client.put_object(**args)
        except Exception as exc:
            code, status = _code(exc)
            if status == 412 or code in ("PreconditionFailed", "ConditionalRequestConflict"):
                # Present already (or being written): not cached, as these bytes were not
                # the ones stored.
                return
            if self._conditional_put and (status == 501 or code == "NotImplemented"):
                # An S3 implementation without conditional writes: overwriting a content
                # address with the same bytes is harmless.
                self._conditional_put = False
                self._put(key, data)
                return
            raise self._explain(exc, "write") from None
        self._recent.put(key, data)

    def _get(self, key: str) -> bytes | None:
        try:
            answer = self._client.get_object(
                Bucket=self.options.bucket, Key=self.options.prefix + key
            )
            data = bytes(answer["Body"].read())
        except Exception as exc:
            code, status = _code(exc)
            if code in ("NoSuchKey", "404") or (status == 404 and code != "NoSuchBucket"):
                return None
            raise self._explain(exc, "read") from None
        self._recent.put(key, data)
        return data

    def _list(self) -> Iterator[tuple[str, int]]:
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.options.bucket, Prefix=self.options.prefix):
                for item in page.get("Contents") or []:
                    yield item["Key"], int(item["Size"])
        except Exception as exc:
            raise self._explain(exc, "list") from None

    def _each(self, call: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        """``call`` on every item, up to ``concurrency`` at a time (S3 has no batch GET/PUT)."""
        if len(items) <= 1:
            return [call(item) for item in items]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.options.concurrency, thread_name_prefix="versions-s3"
                )
            pool = self._pool
        return list(pool.map(call, items))

    def _explain(self, exc: BaseException, doing: str) -> S3Error:
        """An S3Error a person understands, from a botocore error (which is not kept: it can
        carry request details we do not want in a log line)."""
        from botocore import exceptions as bx

        where = self.options.where()
        if isinstance(exc, S3Error):
            return exc
        if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
            return S3Error(
                "no-credentials",
                f"no S3 credentials for {where}: set AWS_ACCESS_KEY_ID and"
                " AWS_SECRET_ACCESS_KEY, a profile (?profile=), a role, or key:secret@ in the"
                " URL",
            )
        if isinstance(exc, bx.ProfileNotFound):
            return S3Error("no-credentials", f"the AWS profile {self.options.profile!r} is unknown")
        if isinstance(exc, bx.ConnectionError | bx.HTTPClientError):
            return S3Error(
                "unreachable",
                f"{where} is unreachable ({type(exc).__name__} after"
                f" {self.options.max_attempts} attempt(s)); is the endpoint right and up?",
            )
        code, status = _code(exc)
        # A HEAD's answer has no body: botocore then gives the status as the code.
        said = code if code and not code.isdigit() else f"HTTP {status}"
        if code == "NoSuchBucket" or (doing == "check" and status == 404):
            return S3Error("no-bucket", f"{where} does not exist; create it or fix the URL")
        if status == 403 or code in (
            "AccessDenied",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "InvalidToken",
            "AllAccessDisabled",
        ):
            return S3Error(
                "access-denied",
                f"access to {where} was denied ({said}): check the credentials and"
                " that they allow s3:ListBucket, s3:GetObject, s3:PutObject and"
                " s3:DeleteObject there",
            )
        if status == 301 or code in ("PermanentRedirect", "AuthorizationHeaderMalformed"):
            return S3Error("wrong-region", f"{where} is in another region: set ?region= in the URL")
        if code:
            return S3Error("error", f"S3 {doing} failed on {where} ({said})")
        return S3Error("error", f"S3 {doing} failed on {where}: {type(exc).__name__}")


def _code(exc: BaseException) -> tuple[str, int]:
    """The S3 error code and HTTP status of a botocore ClientError (``("", 0)`` otherwise)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return "", 0
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status
