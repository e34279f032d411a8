"""What one statement costs through each database path, side by side in one run.

For each path, CPU time of the whole process (the aiosqlite thread included) per
statement, over N rounds of two shapes the order path runs: a point SELECT by primary key,
and a write transaction holding one conditional UPDATE ... RETURNING (a stock deduction).

- SQLAlchemy async (what the repositories used before): aiosqlite / asyncpg under Core;
- raw aiosqlite (a thread hop per call);
- platform.sql: sqlite3 on the event loop / asyncpg's pool (what the repositories use now).

    .venv/bin/python bench/database_path.py               # SQLite and PostgreSQL
    .venv/bin/python bench/database_path.py --rounds 500 --no-postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from minishop.platform.sql import open_database

PG_DSN = os.environ.get("MINISHOP_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "bench_database_path"
CREATE = "CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL, price INTEGER)"


async def measure(label: str, rounds: int, run: Callable[[], Awaitable[None]]) -> dict:
    for _ in range(min(50, rounds)):  # warm caches (prepared statements, pools)
        await run()
    began_cpu, began = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        await run()
    cpu = (time.process_time() - began_cpu) / rounds * 1e6
    wall = (time.perf_counter() - began) / rounds * 1e6
    return {"path": label, "cpu_us": cpu, "wall_us": wall}


async def sqlalchemy_paths(url: str, schema: str | None, rounds: int) -> list[dict]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    args = {"server_settings": {"search_path": schema}} if schema else {}
    engine = create_async_engine(url, connect_args=args, pool_size=1, pool_reset_on_return=None)
    if url.startswith("sqlite"):  # the settings the services used: WAL, synchronous=NORMAL
        from sqlalchemy import event

        def tune(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        event.listen(engine.sync_engine, "connect", tune)
    select = text("SELECT id, stock, price FROM products WHERE id = :id")
    update = text(
        "UPDATE products SET stock = stock - :q WHERE id = :id AND stock >= :q RETURNING stock"
    )

    async def read() -> None:
        async with engine.connect() as connection:
            (await connection.execute(select, {"id": 1})).one()

    async def write() -> None:
        async with engine.begin() as connection:
            (await connection.execute(update, {"q": 1, "id": 1})).one()

    name = "sqlalchemy+" + url.split("+", 1)[1].split(":", 1)[0]
    results = [
        await measure(f"{name}: point SELECT", rounds, read),
        await measure(f"{name}: UPDATE in a transaction", rounds, write),
    ]
    await engine.dispose()
    return results


async def raw_aiosqlite(path: Path, rounds: int) -> list[dict]:
    import aiosqlite

    connection = await aiosqlite.connect(path, isolation_level=None)
    await connection.execute("PRAGMA synchronous=NORMAL")  # as the services: WAL (the file's)

    async def read() -> None:
        async with connection.execute(
            "SELECT id, stock, price FROM products WHERE id = ?", (1,)
        ) as cursor:
            await cursor.fetchone()

    async def write() -> None:
        await connection.execute("BEGIN IMMEDIATE")
        async with connection.execute(
            "UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ? RETURNING stock",
            (1, 1, 1),
        ) as cursor:
            await cursor.fetchone()
        await connection.execute("COMMIT")

    results = [
        await measure("raw aiosqlite: point SELECT", rounds, read),
        await measure("raw aiosqlite: UPDATE in a transaction", rounds, write),
    ]
    await connection.close()
    return results


async def port_paths(url: str, schema: str | None, rounds: int) -> list[dict]:
    database = open_database(url, schema=schema, pool_size=1)
    await database.open()

    async def read() -> None:
        async with database.connection() as connection:
            await connection.fetchrow("SELECT id, stock, price FROM products WHERE id = $1", 1)

    async def write() -> None:
        async with database.transaction() as connection:
            await connection.fetchval(
                "UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1"
                " RETURNING stock",
                1,
                1,
            )

    results = [
        await measure(f"platform.sql {database.system}: point SELECT", rounds, read),
        await measure(f"platform.sql {database.system}: UPDATE in a transaction", rounds, write),
    ]
    await database.close()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        database = open_database(f"sqlite+aiosqlite:///{path}")
        async with database.transaction() as connection:
            await connection.execute(CREATE)
            await connection.execute("INSERT INTO products VALUES (1, 100000000, 999)")
        await database.close()
        url = f"sqlite+aiosqlite:///{path}"
        results += await sqlalchemy_paths(url, None, args.rounds)
        results += await raw_aiosqlite(path, args.rounds)
        results += await port_paths(url, None, args.rounds)
    if not args.no_postgres:
        admin = await asyncpg.connect(PG_DSN)
        await admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
        await admin.execute(f"SET search_path = {SCHEMA}; {CREATE};")
        await admin.execute(f"INSERT INTO {SCHEMA}.products VALUES (1, 100000000, 999)")
        url = "postgresql+asyncpg://" + PG_DSN.split("://", 1)[1]
        try:
            results += await sqlalchemy_paths(url, SCHEMA, args.rounds)
            results += await port_paths(url, SCHEMA, args.rounds)
        finally:
            await admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            await admin.close()
    print(f"{args.rounds} statements per path; CPU of the whole process per statement\n")
    print("| path | CPU µs | wall µs |")
    print("|---|---:|---:|")
    for row in results:
        print(f"| {row['path']} | {row['cpu_us']:.0f} | {row['wall_us']:.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
