"""The CSV export of a large audit log streams: many chunks, flat server memory (PostgreSQL)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from tests.support.api import auth_header, founder

pytestmark = pytest.mark.parametrize("engine", ["postgresql"], indirect=True)

ROWS = 200_000
#: How much a worker's resident memory may grow while it streams the whole export.
RSS_GROWTH_LIMIT_KB = 50 * 1024
SAMPLE_EVERY = 20  # chunks between two RSS readings

#: Entries that continue the practice's chain after its existing ones. The export does not
#: verify the chain, so the hashes only need the right shape (64 hex digits).
BULK_AUDIT_SQL = """
INSERT INTO audit_log (id, chain, seq, prev_hash, hash, practice_id, user_id, action, entity_type,
                       entity_id, ip, metadata, created_at)
SELECT md5(%(chain)s || g)::uuid, %(chain)s, %(head)s + g,
       md5('p' || g) || md5('q' || g), md5('h' || g) || md5('i' || g),
       %(practice)s::uuid, %(user)s::uuid, 'PATIENT_VIEWED', 'patient', g::text, '198.18.0.1', '{}',
       timestamp '2026-01-01' + g * interval '1 second'
FROM generate_series(1, %(rows)s) AS g;
UPDATE audit_chain_head SET seq = %(head)s + %(rows)s, hash = md5('h' || %(rows)s) || md5('i' || %(rows)s)
WHERE chain = %(chain)s
"""


def children_of(pid: int) -> list[int]:
    """The gunicorn workers: the processes whose parent is the server's master."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads worker memory from /proc")
def test_export_of_200000_rows_streams(client, database, live_server):
    admin = founder(client)
    chain = admin.practice["id"].replace("-", "")
    head, existing = database.execute_sql(
        "SELECT max(seq), count(*) FROM audit_log WHERE chain = %s", (chain,)).fetchone()
    database.execute_sql(BULK_AUDIT_SQL, {"chain": chain, "head": head, "rows": ROWS,
                                          "practice": admin.practice["id"],
                                          "user": admin.account.user_id})
    # One worker, so the worker that streams is the one whose memory is read.
    server = live_server(APPLIANCE_SERVER_WORKERS="1")
    (worker,) = children_of(server.process.pid)
    baseline = peak = rss_kb(worker)

    lines = chunks = 0
    previous = b""
    with requests.get(server.url + "/api/audit/export", headers=auth_header(admin.token),
                      stream=True, timeout=60) as response:
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/csv")
        for chunk in response.iter_content(chunk_size=None):
            chunks += 1
            lines += (previous + chunk[:1]).count(b"\r\n") + chunk.count(b"\r\n")
            previous = chunk[-1:]
            if chunks % SAMPLE_EVERY == 0:
                peak = max(peak, rss_kb(worker))
    peak = max(peak, rss_kb(worker))

    # Header, the existing entries, the bulk rows and the AUDIT_EXPORTED entry that the export
    # writes before its stream starts.
    assert lines - 1 == existing + ROWS + 1
    assert chunks >= 100, f"the export arrived in {chunks} chunks: it was not streamed"
    assert peak - baseline <= RSS_GROWTH_LIMIT_KB, (
        f"worker RSS grew from {baseline} kB to {peak} kB while streaming")
