-- The metadata cache: one database for every configured repository, keyed by repository and cpv.
CREATE TABLE repository (
  id       INTEGER PRIMARY KEY,
  name     TEXT NOT NULL UNIQUE,
  location TEXT NOT NULL
);

-- One row per ebuild whose depend phase succeeded. Values are normalised strings, '' when empty.
CREATE TABLE ebuild (
  repo_id   INTEGER NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  cpv       TEXT NOT NULL,
  category  TEXT NOT NULL,
  package   TEXT NOT NULL,
  version   TEXT NOT NULL,
  -- staleness: md5 of the ebuild, with its stat to skip re-hashing unchanged files
  md5       TEXT NOT NULL,
  mtime_ns  INTEGER NOT NULL,
  size      INTEGER NOT NULL,
  -- "name md5 name md5 …" of every eclass used, md5 of the file the lookup chose
  eclasses  TEXT NOT NULL,
  eapi TEXT NOT NULL, slot TEXT NOT NULL, keywords TEXT NOT NULL, iuse TEXT NOT NULL,
  license TEXT NOT NULL, description TEXT NOT NULL, homepage TEXT NOT NULL, src_uri TEXT NOT NULL,
  depend TEXT NOT NULL, rdepend TEXT NOT NULL, pdepend TEXT NOT NULL, bdepend TEXT NOT NULL,
  idepend TEXT NOT NULL, required_use TEXT NOT NULL, restrict_ TEXT NOT NULL, properties TEXT NOT NULL,
  defined_phases TEXT NOT NULL, inherited TEXT NOT NULL, py_compat TEXT NOT NULL,
  PRIMARY KEY (repo_id, cpv)
) WITHOUT ROWID;
CREATE INDEX ebuild_package ON ebuild (category, package);

-- Eclass checksums, with the stat that produced them.
CREATE TABLE eclass_file (
  path     TEXT PRIMARY KEY,
  md5      TEXT NOT NULL,
  mtime_ns INTEGER NOT NULL,
  size     INTEGER NOT NULL
) WITHOUT ROWID;
