-- Each audit chain's newest entry in a row of its own: a writer advances it with one UPDATE ...
-- RETURNING (lock and head in one round trip), instead of an advisory lock and a search for
-- the highest seq in audit_log, whose cost grew with the chain and depended on statistics.

CREATE TABLE audit_chain_head (
    chain TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

INSERT INTO audit_chain_head (chain, seq, hash)
SELECT chain, seq, hash FROM audit_log AS entry
WHERE seq = (SELECT max(seq) FROM audit_log AS newer WHERE newer.chain = entry.chain);
