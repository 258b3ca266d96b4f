-- GDT interface to the practice management system: per-practice exchange settings and the
-- incoming files the import has acted on (so that a file read twice is acted on once).

ALTER TABLE practice ADD COLUMN gdt_exchange_dir TEXT;
ALTER TABLE practice ADD COLUMN gdt_sender_id TEXT NOT NULL DEFAULT 'EINW';
ALTER TABLE practice ADD COLUMN gdt_receiver_id TEXT NOT NULL DEFAULT 'PVS';
ALTER TABLE practice ADD COLUMN gdt_charset TEXT NOT NULL DEFAULT 'ISO-8859-1'
    CHECK (gdt_charset IN ('ISO-8859-1', 'CP437'));
-- One practice per directory: another practice's PVS files must never be imported.
CREATE UNIQUE INDEX practice_gdt_exchange_dir_idx ON practice (gdt_exchange_dir);

CREATE TABLE gdt_import (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL REFERENCES practice (id),
    file_key TEXT NOT NULL,
    file_name TEXT NOT NULL,
    record_type TEXT NOT NULL,
    consent_count INTEGER NOT NULL,
    created_at @TS@ NOT NULL,
    UNIQUE (practice_id, file_key)
);
CREATE INDEX gdt_import_practice_created_idx ON gdt_import (practice_id, created_at);
