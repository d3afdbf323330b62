"""The S3 back end of the version store, against moto's S3 server: a real HTTP endpoint on
127.0.0.1 (started once for this file), reached through boto3 like any S3.

The version store's own tests run again here with their ``store`` on S3; after each of them the
bucket must hold exactly the blobs the index references (nothing orphaned, nothing missing).
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from moto.core.authorization import enable_iam_authentication
from moto.server import ThreadedMotoServer
from unit import test_versions_store as sqlite_suite
from unit.test_versions_store import ANN, notebook

from collab_server.core.db import open_database
from collab_server.versions.canonical import canonical_json, content_id
from collab_server.versions.retention import RetentionPolicy
from collab_server.versions.s3 import S3Blobs, S3Error, S3Options
from collab_server.versions.store import VersionStore

# The same behaviours as on SQLite: every test of the SQLite suite that takes just ``store``
# runs again with this file's ``store`` (a new one there is picked up here by itself), except
# two that cost 700-1,000 S3 round trips each (half a minute on a loaded machine): their S3
# side is checked by the smaller tests below (1,000 versions' objects; retention's deletes).
HEAVY = {
    "test_a_thousand_small_edits_cost_about_the_edits",
    "test_retention_thins_the_store_and_keeps_named_published_restore",
}
REUSED = [
    f
    for name, f in vars(sqlite_suite).items()
    if name.startswith("test_")
    and name not in HEAVY
    and f.__code__.co_varnames[: f.__code__.co_argcount] == ("store",)
]

BUCKET = "collab-versions"
# moto accepts any key; a recognisable secret lets the tests prove it never leaks.
KEY_ID, SECRET = "AKIDTESTONLY", "s3cr3t/with+chars"
CREDS = f"{KEY_ID}:{quote(SECRET, safe='')}@"


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    ).create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


def s3_url(endpoint: str, bucket: str = BUCKET, prefix: str | None = None, **extra: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"endpoint": endpoint, **extra}.items())
    return f"s3://{CREDS}{bucket}/{prefix or uuid.uuid4().hex}?{query}"


@pytest.fixture
def store(endpoint: str, tmp_path: Path) -> Iterator[VersionStore]:
    """A version store whose blobs live under a fresh prefix of the bucket."""
    db = open_database(tmp_path / "db.sqlite")
    backend = S3Blobs(S3Options.from_url(s3_url(endpoint, region="us-east-1")).under("versions"))
    backend.check()
    yield VersionStore(db, backend=backend)
    indexed = {key for (key,) in db.execute("SELECT key FROM version_blobs").fetchall()}
    assert set(backend.keys()) == indexed  # every referenced blob there, and nothing else
    backend.close()


@pytest.mark.parametrize("behaviour", REUSED, ids=lambda f: f.__name__.removeprefix("test_"))
def test_store_behaviour_on_s3(behaviour, store):
    behaviour(store)


def test_a_thousand_small_versions_store_about_one_object_per_distinct_cell(store):
    """1,000 versions of a 20-cell notebook, each a small edit of one cell, some undone."""
    rng = random.Random(11)
    nb = notebook(20, lines=4)
    distinct = {canonical_json({"cells": [c]}) for c in nb["cells"]}
    store.add("f1", nb, "auto", [ANN])
    for _ in range(999):
        cell = nb["cells"][rng.randrange(20)]
        if cell["source"].endswith("#\n") and rng.random() < 0.3:
            cell["source"] = cell["source"][:-2]  # an undo: content seen before
        else:
            cell["source"] += "#\n"
        distinct.add(canonical_json({"cells": [cell]}))
        store.add("f1", nb, "auto", [ANN])
    objects = list(store.backend.keys())  # type: ignore[attr-defined]
    assert store.size("f1").versions == 1000
    # One object per distinct cell, plus the one skeleton they all share.
    assert len(objects) == len(distinct) + 1 < 1000
    head = store.head("f1")
    assert head is not None and content_id(store.get("f1", head.id)) == head.id


def test_retention_deletes_objects_only_when_no_version_uses_them(store):
    a = notebook(3)
    b = copy.deepcopy(a)
    b["cells"][0]["source"] = "x\n"
    store.add("f1", a, "auto", created="2026-01-01T00:00:00+00:00")
    store.add("f1", b, "auto", created="2026-01-01T00:10:00+00:00")
    store.add("f1", a, "auto")
    store.add("f1", b, "auto")
    store.add("f1", a, "auto")
    objects = set(store.backend.keys())  # type: ignore[attr-defined]
    assert len(objects) == 5  # skeleton + 3 cells + the edited cell
    dropped = store.apply_retention("f1", RetentionPolicy(), now=datetime(2026, 1, 3, tzinfo=UTC))
    assert dropped == [1]  # same hour as version 2; the rest are recent
    assert set(store.backend.keys()) == objects  # version 1's content is still the head's
    c = copy.deepcopy(a)
    c["cells"][1]["source"] = "only here\n"
    store.add("f2", c, "save")
    store.forget("f1")
    # f1's own cell (b's) went; what f2 shares stayed, and f2 reads back whole.
    assert len(set(store.backend.keys())) == 4  # type: ignore[attr-defined]
    assert content_id(store.get("f2", content_id(c))) == content_id(c)


def test_a_put_of_a_key_already_there_writes_nothing(endpoint):
    blobs = S3Blobs(S3Options.from_url(s3_url(endpoint, cache_mb="0")))  # what S3 holds
    key = "a" * 64
    blobs.put_many([(key, b"first")])
    # A second put of the same key is skipped by the server (If-None-Match), whatever it holds.
    blobs.put_many([(key, b"second"), ("b" * 64, b"other")])
    assert blobs.get_many([key, key]) == {key: b"first"}
    with pytest.raises(KeyError, match="1 version blob"):
        blobs.get_many([key, "c" * 64])
    blobs.delete([key, "c" * 64])  # a key it does not hold is ignored
    assert list(blobs.keys()) == ["b" * 64]


def test_recent_blobs_are_read_from_memory_until_deleted(endpoint):
    url = s3_url(endpoint, cache_mb="0.001")  # 1,048 bytes: a blob over 131 is not kept
    blobs = S3Blobs(S3Options.from_url(url))
    direct = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    small, large, read = "1" * 64, "2" * 64, "3" * 64
    blobs.put_many([(small, b"s" * 100), (large, b"L" * 200)])
    direct.put_object(Bucket=BUCKET, Key=blobs.options.prefix + read, Body=b"r" * 100)
    assert blobs.get_many([read]) == {read: b"r" * 100}
    # Removed behind the back end's back: what it wrote or read recently still reads.
    for key in (small, large, read):
        direct.delete_object(Bucket=BUCKET, Key=blobs.options.prefix + key)
    assert blobs.get_many([small, read]) == {small: b"s" * 100, read: b"r" * 100}
    with pytest.raises(KeyError):
        blobs.get_many([large])  # too large to keep
    blobs.delete([small])  # deleting forgets it
    with pytest.raises(KeyError):
        blobs.get_many([small])
    for k in range(20):  # 2,000 bytes of other blobs push the oldest out
        blobs.put_many([(f"{k:064d}", b"n" * 100)])
    with pytest.raises(KeyError):
        blobs.get_many([read])


def test_credentials_from_the_environment(endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    options = S3Options.from_url(f"s3://{BUCKET}/env?endpoint={endpoint}")
    assert options.access_key_id is None
    blobs = S3Blobs(options)
    blobs.check()
    blobs.put_many([("d" * 64, b"x")])
    assert blobs.get_many(["d" * 64]) == {"d" * 64: b"x"}


def assert_no_secret(text: str) -> None:
    assert SECRET not in text and KEY_ID not in text and "s3cr3t" not in text


def test_a_missing_bucket_is_a_clear_error_and_records_nothing(endpoint, tmp_path):
    blobs = S3Blobs(S3Options.from_url(s3_url(endpoint, bucket="no-such-bucket")))
    with pytest.raises(S3Error) as checked:
        blobs.check()
    assert checked.value.reason == "no-bucket"
    assert "'no-such-bucket'" in str(checked.value) and "does not exist" in str(checked.value)
    assert_no_secret(str(checked.value))
    store = VersionStore(open_database(tmp_path / "db.sqlite"), backend=blobs)
    with pytest.raises(S3Error, match="does not exist") as saving:
        store.add("f1", notebook(3), "save", [ANN])
    assert saving.value.reason == "no-bucket"
    # botocore's exception is not chained (a traceback in a log shows only ours)
    assert saving.value.__cause__ is None and saving.value.__suppress_context__
    assert store.head("f1") is None and store.size().blobs == 0


def test_access_denied_is_a_clear_error_and_records_nothing(endpoint, tmp_path):
    """A key that may read but not write, and a key the endpoint does not know."""
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    user = f"reader-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="read-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:ListBucket"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    reader_secret = key["SecretAccessKey"]
    reader = f"{key['AccessKeyId']}:{quote(reader_secret, safe='')}@"
    url = f"s3://{reader}{BUCKET}/{uuid.uuid4().hex}?endpoint={endpoint}"
    store = VersionStore(
        open_database(tmp_path / "db.sqlite"), backend=S3Blobs(S3Options.from_url(url))
    )
    stranger = S3Blobs(S3Options.from_url(s3_url(endpoint)))
    # moto checks signatures and IAM policies only inside this block (its own switch).
    with enable_iam_authentication():
        with pytest.raises(S3Error) as writing:
            store.add("f1", notebook(3), "save", [ANN])
        with pytest.raises(S3Error) as unknown:
            stranger.put_many([("f" * 64, b"x")])
        with pytest.raises(S3Error) as checking:
            stranger.check()  # a HEAD: the answer has a status and no body
    for failed in (writing.value, unknown.value, checking.value):
        assert failed.reason == "access-denied"
        assert f"access to S3 bucket '{BUCKET}'" in str(failed) and "denied" in str(failed)
        assert_no_secret(str(failed))
        assert key["AccessKeyId"] not in str(failed) and reader_secret not in str(failed)
    assert "(AccessDenied)" in str(writing.value)
    assert "(InvalidAccessKeyId)" in str(unknown.value)
    assert "(HTTP 403)" in str(checking.value)
    assert store.head("f1") is None and store.size().blobs == 0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_endpoint_that_is_down_fails_quickly_and_clearly(tmp_path):
    url = s3_url(f"http://127.0.0.1:{closed_port()}", connect_timeout="1", max_attempts="2")
    blobs = S3Blobs(S3Options.from_url(url))
    store = VersionStore(open_database(tmp_path / "db.sqlite"), backend=blobs)
    started = time.monotonic()
    with pytest.raises(S3Error) as failed:
        store.add("f1", notebook(3), "save", [ANN])
    assert time.monotonic() - started < 5
    assert failed.value.reason == "unreachable"
    assert "unreachable" in str(failed.value) and "2 attempt(s)" in str(failed.value)
    assert_no_secret(str(failed.value))
    assert store.head("f1") is None and store.size().blobs == 0
    with pytest.raises(S3Error, match="unreachable"):
        blobs.check()


def test_an_endpoint_that_accepts_but_never_answers_times_out(tmp_path):
    """A hung S3 (connection accepted, no reply): the read timeout and retry bound apply."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)  # the kernel accepts connections; nobody reads or answers
        port = hung.getsockname()[1]
        url = s3_url(f"http://127.0.0.1:{port}", read_timeout="0.5", max_attempts="2")
        blobs = S3Blobs(S3Options.from_url(url))
        started = time.monotonic()
        with pytest.raises(S3Error) as failed:
            blobs.get_many(["e" * 64])
        elapsed = time.monotonic() - started
    assert failed.value.reason == "unreachable"
    assert 0.9 < elapsed < 5  # two tries of 0.5 s each (plus a short backoff), not minutes
    assert_no_secret(str(failed.value))


# -- the option (pure parsing, no server) ------------------------------------------------


def test_the_url_gives_the_options_and_defaults():
    o = S3Options.from_url("s3://my-bucket")
    assert (o.bucket, o.prefix, o.endpoint_url, o.region, o.addressing) == (
        "my-bucket",
        "",
        None,
        None,
        "auto",
    )
    assert (o.connect_timeout, o.read_timeout, o.max_attempts, o.concurrency) == (3, 20, 3, 16)
    assert o.cache_mb == 32 and S3Options.from_url("s3://my-bucket?cache_mb=0").cache_mb == 0
    assert o.access_key_id is None and o.secret_access_key is None
    o = S3Options.from_url(
        f"s3://{CREDS}my-bucket//team/nb//?endpoint=http://127.0.0.1:9000&region=eu-west-3"
        "&max_attempts=5&read_timeout=2.5&concurrency=4&profile=ci"
    )
    assert o.prefix == "team/nb/" and o.endpoint_url == "http://127.0.0.1:9000"
    assert o.addressing == "path"  # a custom endpoint: no bucket.host DNS names
    assert (o.region, o.profile, o.max_attempts, o.read_timeout, o.concurrency) == (
        "eu-west-3",
        "ci",
        5,
        2.5,
        4,
    )
    assert (o.access_key_id, o.secret_access_key) == (KEY_ID, SECRET)
    assert o.under("versions").prefix == "team/nb/versions/"
    assert o.under("published").prefix == "team/nb/published/"
    assert S3Options.from_url("s3://my-bucket").under("versions").prefix == "versions/"
    for shown in (str(o), repr(o), o.where()):
        assert_no_secret(shown)
    assert str(o) == "s3://my-bucket/team/nb/?endpoint=http://127.0.0.1:9000&region=eu-west-3"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://my-bucket/x", "must start with s3://"),
        ("s3://My_Bucket/x", "is not an S3 bucket name"),
        ("s3://MyBucket/x", "'MyBucket' is not an S3 bucket name"),
        ("s3://my-bucket:9000/x", "is not an S3 bucket name"),
        ("s3:///x", "'' is not an S3 bucket name"),
        ("s3://my-bucket/x?bucket=other", "unknown option 'bucket'"),
        ("s3://key@my-bucket/x", "both an access key id and a secret"),
        ("s3://my-bucket/x?endpoint=127.0.0.1:9000", "http:// or https://"),
        ("s3://my-bucket/x?addressing=dns", "auto, path or virtual"),
        ("s3://my-bucket/x?max_attempts=many", "max_attempts must be a number"),
        ("s3://my-bucket/x?read_timeout=0", "read_timeout must be positive"),
        ("s3://my-bucket/x?cache_mb=-1", "cache_mb must be zero or more"),
    ],
)
def test_a_bad_url_says_what_is_wrong(url, message):
    with pytest.raises(ValueError, match=message):
        S3Options.from_url(url)


def test_the_sqlite_suite_is_reused():
    assert len(REUSED) >= 7  # guard: a change to how that file names its fixture shows here


# -- the event loop never waits on S3 -------------------------------------------------------


def _gated(store: VersionStore, method: str) -> tuple[threading.Event, threading.Event, list[int]]:
    """Hold ``store.backend.<method>`` until ``release`` is set; ``entered`` once it is called;
    the ids of the threads that called it. (The real S3 call runs afterwards.)"""
    entered, release, threads = threading.Event(), threading.Event(), []
    real = getattr(store.backend, method)

    def held(*args: Any) -> Any:
        threads.append(threading.get_ident())
        entered.set()
        assert release.wait(10), "the event loop never let the S3 call go"
        return real(*args)

    setattr(store.backend, method, held)
    return entered, release, threads


async def _while_held(entered: threading.Event, release: threading.Event) -> int:
    """Run the loop until the held call is entered, then let it go; returns how many times
    the loop turned meanwhile (it could not turn at all if the call blocked it)."""
    turns = 0
    deadline = time.monotonic() + 10
    while not entered.is_set():
        assert time.monotonic() < deadline, "the S3 call was never made"
        turns += 1
        await asyncio.sleep(0.005)
    release.set()
    return turns


async def test_async_store_calls_wait_on_s3_in_worker_threads(store):
    loop_thread = threading.get_ident()
    nb = notebook(4)
    entered, release, threads = _gated(store, "put_many")
    add = asyncio.ensure_future(store.add_async("f1", nb, "save", [ANN]))
    await _while_held(entered, release)
    version = await add
    assert threads and loop_thread not in threads

    entered, release, threads = _gated(store, "get_many")
    store.backend._recent.drop(list(store.backend.keys()))  # type: ignore[attr-defined]
    get = asyncio.ensure_future(store.get_async("f1", version.id))
    await _while_held(entered, release)
    assert content_id(await get) == version.id
    assert threads and loop_thread not in threads

    entered, release, threads = _gated(store, "delete")
    forget = asyncio.ensure_future(store.forget_async("f1"))
    await _while_held(entered, release)
    await forget
    assert threads and loop_thread not in threads
    assert store.head("f1") is None and list(store.backend.keys()) == []  # type: ignore[attr-defined]


async def test_a_deletion_and_an_upload_of_the_same_cells_do_not_race(store):
    """f1 is forgotten (its blobs deleted after the commit) while f2 stores the same cells:
    one at a time, so f2 keeps every byte (the fixture checks the bucket against the index)."""
    nb = notebook(5)
    await store.add_async("f1", nb, "save")
    other = copy.deepcopy(nb)
    other["cells"][0]["source"] = "new\n"
    await asyncio.gather(store.forget_async("f1"), store.add_async("f2", other, "save"))
    assert content_id(await store.get_async("f2", content_id(other))) == content_id(other)


async def test_a_server_keeps_its_versions_in_s3(endpoint, spawn_server):
    """The whole path on S3: automatic and labelled versions, reading, diff, restore."""
    from support.notebooks import write_notebook
    from support.yclient import YClient

    prefix = uuid.uuid4().hex
    server = spawn_server(
        f"--CollabServer.versions_s3_url={s3_url(endpoint, prefix=prefix, region='us-east-1')}",
        "--CollabServer.versions_idle_gap=300",
    )
    path = write_notebook(server.root, ["a = 1"])
    alice = await YClient.connect(server, path, "alice-token")
    try:
        alice.insert(0, None, "0")
        await alice.barrier()
        assert (await alice.save())["status"] == "success"
        async with server.client() as c:
            listed = (await c.get(f"/api/collab/versions/{path}")).json()["versions"]
            assert [v["kind"] for v in listed] == ["save", "auto"]
            assert listed[0]["authors"] == [{"id": "alice", "name": "Alice Editor"}]
            r = await c.get(f"/api/collab/versions/{path}/{listed[1]['id']}")
            assert "".join(r.json()["cells"][0]["source"]) == "a = 1"
            r = await c.get(f"/api/collab/versions/{path}/{listed[1]['id']}/diff?to=current")
            assert any(e["key"] == "cells" for e in r.json()["diff"])
            r = await c.post(f"/api/collab/versions/{path}/{listed[1]['id']}/restore")
            assert r.status_code == 201, r.text
        await alice.barrier()
        assert alice.text(0) == "a = 1"
    finally:
        await alice.close()
    objects = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    ).list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/versions/")
    assert objects.get("KeyCount", 0) >= 3  # the skeleton and both versions of the cell
