"""The test suite's PostgreSQL helper gives a server on which databases can be made and used."""

import uuid

import psycopg2
import pytest

from tests.support.postgres import PostgresServer


@pytest.fixture
def server(pg_server):
    return pg_server


def _fetchone(url, query, params=()):
    conn = psycopg2.connect(url, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchone()
    finally:
        conn.close()


def _exists(server, name):
    query = "select count(*) from pg_database where datname = %s"
    return _fetchone(server.maintenance_url, query, (name,)) == (1,)


def test_database_url_names_the_database(server: PostgresServer):
    url = server.database_url("some_db")
    assert url.startswith("postgresql://")
    assert url.endswith("/some_db")


def test_create_connect_and_drop_a_database(server: PostgresServer):
    name = f"appliance_selftest_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    try:
        assert url == server.database_url(name)
        assert _fetchone(url, "select 1, current_database()") == (1, name)
    finally:
        server.drop_database(name)
    assert not _exists(server, name)


def test_drop_database_ends_open_sessions(server: PostgresServer):
    name = f"appliance_selftest_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(server.create_database(name), connect_timeout=10)
    try:
        server.drop_database(name)
    finally:
        conn.close()
    assert not _exists(server, name)
    server.drop_database(name)  # dropping a missing database is not an error
