-- GDT with real practice software: how a practice's PVS asks for consent types (its own
-- 8402/8410 values, and a default type for a 6302 that names no test), and which quirks of its
-- files the import tolerates (by default LF line ends, a trailing Ctrl-Z and a wrong 8100).

ALTER TABLE practice ADD COLUMN gdt_request_map TEXT NOT NULL DEFAULT '[]';
ALTER TABLE practice ADD COLUMN gdt_default_type TEXT;
ALTER TABLE practice ADD COLUMN gdt_tolerate TEXT NOT NULL
    DEFAULT '["LF_LINE_ENDS","TRAILING_CTRL_Z","WRONG_RECORD_LENGTH"]';
