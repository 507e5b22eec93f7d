-- What a sync last brought the metadata of each repository up to: the commit its checkout had
-- and whether every ebuild then had a current entry. A later sync regenerates a kit whose commit
-- moved since, or whose last regeneration was skipped (--no-regen), interrupted or incomplete,
-- not only the kits that moved in that sync.
ALTER TABLE repository ADD COLUMN regen_commit TEXT NOT NULL DEFAULT '';
ALTER TABLE repository ADD COLUMN regen_complete INTEGER NOT NULL DEFAULT 0;
