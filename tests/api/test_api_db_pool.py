"""Pooled PostgreSQL connections are pinged only after sitting idle, and a pinged connection
is handed on idle (not inside the ping's transaction), so a request may still switch it to
autocommit (stop events, key lookups)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import event, text

from dispatch_api import db


def test_a_pinged_connection_can_go_to_autocommit(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the idle ping is PostgreSQL's")
    monkeypatch.setattr(db, "_PING_IDLE_S", 0.0)  # every checkout after the first pings
    engine = db.make_engine(database_url, pool_size=1, max_overflow=0)
    states: list[psycopg.pq.TransactionStatus] = []
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))

    @event.listens_for(engine, "checkout")  # after the ping's own checkout listener
    def _seen(dbapi_conn: psycopg.Connection[object], _record: object, _proxy: object) -> None:
        states.append(dbapi_conn.info.transaction_status)

    with db.sessions(engine)() as session:
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        assert session.execute(text("SELECT 2")).scalar_one() == 2
    assert states == [psycopg.pq.TransactionStatus.IDLE]
    engine.dispose()
