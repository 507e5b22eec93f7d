-- Where an entry came from, and whether its last regeneration failed.
--   origin:  'sourced'   ouzo ran the depend phase;
--            'md5-cache' imported from the repository's shipped metadata/md5-cache, valid by its
--                        ebuild and eclass checksums (that file has no _PY_COMPAT and no INHERITED
--                        order, so reposcan output sources such entries again).
--   failure: '' when the values match the ebuild and eclasses recorded; otherwise the message of the
--            last regeneration, which failed: the values are the last good ones, kept (a failure
--            may be transient: a timeout, a killed worker) and retried by the next regen.
ALTER TABLE ebuild ADD COLUMN origin TEXT NOT NULL DEFAULT 'sourced';
ALTER TABLE ebuild ADD COLUMN failure TEXT NOT NULL DEFAULT '';
