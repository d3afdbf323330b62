"""Gallery benchmark: search, index build, incremental update, recommendations, index size.

Stand-alone (not part of ``python -m bench``)::

    PYTHONPATH=. .venv/bin/python bench/gallery_bench.py [--notebooks 10000] [--users 10000]

Generates notebooks in 100 team folders (Zipf-distributed vocabulary, imports, tags), users
with folder grants (each reads 10 folders: 10% of the notebooks) and 30 days of views, then
prints one table. Everything runs in process against a real database file (WAL, as the
server opens it).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from collab_server.core.db import open_database
from collab_server.gallery import (
    Execution,
    GalleryActivity,
    GalleryIndex,
    Readable,
    Recommender,
    compute_health,
)
from collab_server.gallery.merge import three_way

DAY = 86400.0
FOLDERS = 100
PACKAGES = [
    "pandas", "numpy", "scipy", "sklearn", "matplotlib", "seaborn", "plotly", "requests",
    "torch", "tensorflow", "statsmodels", "sqlalchemy", "pyspark", "polars", "xgboost",
    "networkx", "nltk", "bs4", "boto3", "pyarrow",
]  # fmt: skip
TAGS = ["finance", "ml", "etl", "draft", "report", "tutorial", "ops", "geo", "nlp", "viz"]


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def make_notebook(rng: random.Random, words: list[str], weights: list[float]) -> dict[str, Any]:
    def text(n: int) -> str:
        return " ".join(rng.choices(words, weights, k=n))

    imports = rng.sample(PACKAGES, rng.randint(1, 4))
    code = (
        "\n".join(f"import {p}" for p in imports)
        + "\n"
        + "\n".join(
            f"{w} = {imports[0]}.{rng.choice(words)}({rng.choice(words)})"
            for w in rng.choices(words, weights, k=20)
        )
    )
    return {
        "cells": [
            {"cell_type": "markdown", "id": "t", "source": f"# {text(rng.randint(3, 6))}\n\n"
             f"{text(15)}\n\n{text(150)}"},
            {"cell_type": "code", "id": "c1", "source": code},
            {"cell_type": "markdown", "id": "m2", "source": text(60)},
            {"cell_type": "code", "id": "c2", "source": f"print({rng.choice(words)})"},
        ],
        "metadata": {"kernelspec": {"language": "python"}},
    }  # fmt: skip


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notebooks", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--search-only", action="store_true", help="skip activity and recommendations"
    )
    args = parser.parse_args()
    rng = random.Random(2026)
    words = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf
    rows: list[tuple[str, str]] = []
    table: list[tuple[str, str]] = []

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "server.db"
        db = open_database(db_path)
        index, activity, recommender = GalleryIndex(db), GalleryActivity(db), Recommender(db)
        now = time.time()

        notebooks = []
        for i in range(args.notebooks):
            folder = f"team{i % FOLDERS:03d}"
            owner = f"user{rng.randrange(args.users):05d}"
            updated = now - rng.random() * 365 * DAY
            notebooks.append((f"id{i:06d}", f"{folder}/nb{i:06d}.ipynb",
                              make_notebook(rng, words, weights), owner, updated))  # fmt: skip
            rows.append((f"id{i:06d}", f"{folder}/nb{i:06d}.ipynb"))

        def batches() -> Iterator[list[tuple[str, str, dict[str, Any], str, float]]]:
            for start in range(0, len(notebooks), 1000):
                yield notebooks[start : start + 1000]

        start = time.perf_counter()
        for batch in batches():
            index.upsert_many(batch)
        build_s = time.perf_counter() - start
        table.append(("index build", f"{build_s:.1f} s ({args.notebooks / build_s:.0f} nb/s)"))

        for file_id, _ in rng.sample(rows, len(rows) // 3):
            for tag in rng.sample(TAGS, rng.randint(1, 2)):
                activity.add_tag(file_id, tag, "bench")

        # Users: each reads 10 of the 100 folders (10% of the notebooks).
        grants = {
            f"user{u:05d}": [f"team{f:03d}" for f in rng.sample(range(FOLDERS), 10)]
            for u in range(args.users)
        }
        person = "user00001"
        folders = grants[person]
        readable_paths = {p for _, p in rows if p.split("/")[0] in folders}
        readable_ids = {f for f, p in rows if p.split("/")[0] in folders}
        forms = {
            "admin (everything)": Readable.everything(),
            "grants: 10 folders": Readable.grants(folders=folders),
            "file ids (temp table)": Readable.file_ids(readable_ids),
            "callback per candidate": Readable.callback(lambda p: p.split("/")[0] in folders),
            "grants: 1000 exact paths": Readable.grants(paths=readable_paths),
        }
        common = words[:30]
        mid = words[200:400]
        queries = []
        kinds = []
        kind_names = ["common word", "two words", "phrase", "word + tag:", "prefix + package:",
                      "(a OR b) -c"]  # fmt: skip
        for _ in range(args.queries):
            kind = rng.randrange(6)
            kinds.append(kind)
            if kind == 0:
                queries.append(rng.choice(common))
            elif kind == 1:
                queries.append(f"{rng.choice(mid)} {rng.choice(common)}")
            elif kind == 2:
                queries.append(f'"{rng.choice(common)} {rng.choice(common)}"')
            elif kind == 3:
                queries.append(f"{rng.choice(mid)} tag:{rng.choice(TAGS)}")
            elif kind == 4:
                queries.append(f"{rng.choice(common)[:3]}* package:{rng.choice(PACKAGES)}")
            else:
                queries.append(f"({rng.choice(mid)} OR {rng.choice(mid)}) -{rng.choice(common)}")
        for name, readable in forms.items():
            samples = []
            totals = []
            for q in queries:
                start = time.perf_counter()
                result = index.search(q, readable, limit=20)
                samples.append((time.perf_counter() - start) * 1000)
                totals.append(result["total"])
            table.append(
                (f"search, {name}",
                 f"p50 {percentile(samples, 50):.1f} ms, p99 {percentile(samples, 99):.1f} ms"
                 f" (mean hits {statistics.mean(totals):.0f})")
            )  # fmt: skip
            if name == "grants: 10 folders":
                # On a shared machine one slow query is often another process's time
                # slice: best of 3 runs per query separates our cost from that noise.
                best = []
                for q in queries:

                    def once(q: str = q, r: Readable = readable) -> None:
                        index.search(q, r, limit=20)

                    best.append(min(timed(once, 3)))
                table.append(
                    ("  same, best of 3 per query",
                     f"p50 {percentile(best, 50):.1f} ms, p99 {percentile(best, 99):.1f} ms")
                )  # fmt: skip
                for k, kind_name in enumerate(kind_names):
                    mine = [ms for ms, kk in zip(samples, kinds, strict=True) if kk == k]
                    if mine:
                        p50, p99 = percentile(mine, 50), percentile(mine, 99)
                        table.append((f"  {kind_name}", f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"))

        # Incremental update after one save: one notebook re-extracted and rewritten.
        saves = [rng.choice(notebooks) for _ in range(200)]
        samples = []
        for file_id, path, _, owner, _ in saves:
            nb = make_notebook(rng, words, weights)
            start = time.perf_counter()
            index.upsert(file_id, path, nb, owner=owner)
            samples.append((time.perf_counter() - start) * 1000)
        table.append(
            ("update after one save",
             f"p50 {percentile(samples, 50):.2f} ms, p99 {percentile(samples, 99):.2f} ms")
        )  # fmt: skip

        if args.search_only:
            db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            table.append(("database on disk", f"{db_path.stat().st_size / 1e6:.1f} MB"))
            print_table(table, args)
            return
        # 30 days of views: each user views ~20 notebooks they can read.
        by_folder: dict[str, list[str]] = {}
        for file_id, path in rows:
            by_folder.setdefault(path.split("/")[0], []).append(file_id)
        start = time.perf_counter()
        db.conn.execute("BEGIN")
        for user, user_folders in grants.items():
            pool = [f for folder in user_folders for f in by_folder[folder]]
            for file_id in rng.sample(pool, min(20, len(pool))):
                activity.record_view(file_id, user, now=now - rng.random() * 30 * DAY)
        db.conn.execute("COMMIT")
        views_s = time.perf_counter() - start
        table.append(("record 200k views (one commit)", f"{views_s:.1f} s"))

        # The bulk listing (the Python client's notebooks()): every readable notebook with
        # its counts, in pages of 1000.
        for name, readable in (("admin, all", Readable.everything()),
                               ("reader, 10%", Readable.grants(folders=folders))):  # fmt: skip

            def listing(r: Readable = readable) -> int:
                offset, seen = 0, 0
                while True:
                    page = index.catalog(r, 1000, offset)
                    seen += len(page["notebooks"])
                    offset += 1000
                    if offset >= page["total"]:
                        return seen

            samples = timed(listing, 5)
            table.append(
                (f"bulk listing (pages of 1000), {name}", f"{statistics.median(samples):.0f} ms"
                 f" for {listing()} notebooks")
            )  # fmt: skip

        start = time.perf_counter()
        pairs = recommender.refresh_similar()
        refresh_s = time.perf_counter() - start
        table.append(("recommendations: similarity refresh", f"{refresh_s:.1f} s ({pairs} pairs)"))
        people = rng.sample(sorted(grants), 50)
        samples = []
        for user in people:
            readable = Readable.grants(folders=grants[user])
            members = rng.sample(sorted(grants), 20)
            start = time.perf_counter()
            recommender.recommend(user, readable, group="g", group_members=members, now=now)
            samples.append((time.perf_counter() - start) * 1000)
        table.append(
            ("recommend() for one person",
             f"p50 {percentile(samples, 50):.0f} ms, p99 {percentile(samples, 99):.0f} ms")
        )  # fmt: skip
        # What the server does on a repeated request: the person's candidates are kept, and
        # only the permission, ownership and "viewed lately" checks and the ranking run again.
        samples = []
        for user in people:
            readable = Readable.grants(folders=grants[user])
            members = rng.sample(sorted(grants), 20)
            kept = recommender.candidates(user, readable, groups={"g": members}, now=now)
            start = time.perf_counter()
            recommender.rank(user, readable, kept, now=now)
            samples.append((time.perf_counter() - start) * 1000)
        table.append(
            ("recommend(), candidates kept (repeat)",
             f"p50 {percentile(samples, 50):.1f} ms, p99 {percentile(samples, 99):.1f} ms")
        )  # fmt: skip

        # A change request on a 1000-cell notebook that moved on since: three-way merge.
        def big(edit: dict[int, str]) -> dict[str, Any]:
            return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
                {"id": f"c{i}", "cell_type": "code", "metadata": {}, "outputs": [],
                 "execution_count": None, "source": edit.get(i, f"x{i} = {i}\nprint(x{i})")}
                for i in range(1000)]}  # fmt: skip

        base = big({})
        proposed, current = big({i: "changed" for i in range(0, 1000, 10)}), big({5: "other"})
        samples = timed(lambda: three_way(base, proposed, current), 5)
        table.append(("change request merge, 1000 cells", f"{statistics.median(samples):.0f} ms"))

        # Health of one notebook from a busy month: 2000 executions.
        cells = [("c1", "h1"), ("c2", "h2")]
        log = [
            Execution(c, i, h, f"user{rng.randrange(50)}", f"s{n}", rng.random() > 0.1,
                      now - rng.random() * 30 * DAY)
            for n in range(1000) for i, (c, h) in enumerate(cells)
        ]  # fmt: skip
        samples = timed(lambda: compute_health(log, cells, now=now), 20)
        table.append(
            ("health of one notebook (2000 executions)", f"{statistics.median(samples):.1f} ms")
        )

        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sizes = {}
        try:
            for name, size in db.conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
                sizes[name] = size
        except Exception:  # dbstat is optional in SQLite builds
            sizes = {}
        fts = sum(v for k, v in sizes.items() if k.startswith("gallery_fts"))
        facts = sum(v for k, v in sizes.items() if k.startswith("gallery_notebooks"))
        total = db_path.stat().st_size
        table.append(("database on disk", f"{total / 1e6:.1f} MB"))
        if sizes:
            table.append(("  of which FTS index + text", f"{fts / 1e6:.1f} MB"))
            table.append(("  of which notebook facts", f"{facts / 1e6:.1f} MB"))
            activity_size = sum(v for k, v in sizes.items() if k.startswith("gallery_activity"))
            table.append(("  of which activity (200k rows)", f"{activity_size / 1e6:.1f} MB"))
        db.conn.close()

    print_table(table, args)


def print_table(table: list[tuple[str, str]], args: argparse.Namespace) -> None:
    width = max(len(k) for k, _ in table)
    print(
        f"Gallery benchmark: {args.notebooks} notebooks, {args.users} users, "
        f"{args.queries} queries, reader sees 10%"
    )
    print(f"| {'measure'.ljust(width)} | result |")
    print(f"|{'-' * (width + 2)}|--------|")
    for key, value in table:
        print(f"| {key.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
