-- A photo's thumbnail: a small JPEG the staff client made from the photo, encrypted to the
-- practice key as its own payload (purpose photo.thumbnail, bound to the photo's id) and
-- signed (statement photo.thumbnail). It is part of the photo: uploaded in the same request,
-- committed with the photo's row, deleted with it (and with the patient's erasure). Small
-- (at most 262253 bytes), so it lives in the database, not in the object store; a table of
-- its own keeps the photo lists from reading it.
CREATE TABLE photo_thumbnail (
    id @UUID@ PRIMARY KEY REFERENCES photo (id) ON DELETE CASCADE,
    practice_id @UUID@ NOT NULL REFERENCES practice (id),
    wrapped_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    ciphertext @BLOB@ NOT NULL,
    size_bytes INTEGER NOT NULL
);
CREATE INDEX photo_thumbnail_practice_idx ON photo_thumbnail (practice_id);
