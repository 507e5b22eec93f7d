# shellcheck shell=bash
# ouzo's EAPI table for the bash side: one predicate per feature, each a single `case ${EAPI}`.
# The helpers ask these; no other shell code compares EAPI numbers. An unknown EAPI behaves like
# the newest one (the TS side refuses to build EAPIs it does not know). Sourced by phase.sh and by
# every external helper (through helpers/_lib.sh); defines functions only.

# ---- failure behaviour (spec §3.0) ----

# Helpers with "EAPI-dependent failure" abort the build (4+) instead of returning non-zero.
___eapi_helpers_can_die() { case ${EAPI:-0} in 0 | 1 | 2 | 3) return 1 ;; *) return 0 ;; esac; }
# `nonfatal` exists (shell function 4+; also an external command 7+).
___eapi_has_nonfatal() { case ${EAPI:-0} in 0 | 1 | 2 | 3) return 1 ;; *) return 0 ;; esac; }

# ---- variables (spec §2.1, §2.2) ----

# ED, EROOT, EPREFIX exist.
___eapi_has_prefix_vars() { case ${EAPI:-0} in 0 | 1 | 2) return 1 ;; *) return 0 ;; esac; }
# SYSROOT, ESYSROOT, BROOT exist.
___eapi_has_SYSROOT() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6) return 1 ;; *) return 0 ;; esac; }
# D, ED, ROOT, EROOT end in a slash.
___eapi_trailing_slash() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6) return 0 ;; *) return 1 ;; esac; }
# DESTTREE/INSDESTTREE are visible (and honoured when assigned); 7+: assigning them is an error.
___eapi_has_DESTTREE_vars() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6) return 0 ;; *) return 1 ;; esac; }
# src_configure exists (econf belongs there; before it, in src_compile).
___eapi_has_src_configure() { case ${EAPI:-0} in 0 | 1) return 1 ;; *) return 0 ;; esac; }

# ---- USE queries (spec §3.2) ----

# `use` of a flag outside IUSE_EFFECTIVE dies (source builds); before: a QA notice.
___eapi_use_enforces_iuse() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4) return 1 ;; *) return 0 ;; esac; }
___eapi_has_usex() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4) return 1 ;; *) return 0 ;; esac; }
# `usev flag word` prints word.
___eapi_usev_has_word() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7) return 1 ;; *) return 0 ;; esac; }
# use_with/use_enable: a present but empty third argument gives `--with-opt=`.
___eapi_use_with_empty_third_arg() { case ${EAPI:-0} in 0 | 1 | 2 | 3) return 1 ;; *) return 0 ;; esac; }
___eapi_has_in_iuse() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; *) return 0 ;; esac; }

# ---- commands that exist only in some EAPIs ----

___eapi_has_einstalldocs() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; *) return 0 ;; esac; }
___eapi_has_get_libdir() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; *) return 0 ;; esac; }
# eapply and eapply_user.
___eapi_has_eapply() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; *) return 0 ;; esac; }
___eapi_has_docompress() { case ${EAPI:-0} in 0 | 1 | 2 | 3) return 1 ;; *) return 0 ;; esac; }
___eapi_has_dostrip() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6) return 1 ;; *) return 0 ;; esac; }
# doheader and newheader.
___eapi_has_doheader() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4) return 1 ;; *) return 0 ;; esac; }
# edo, pipestatus, ver_replacing.
___eapi_has_edo() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8) return 1 ;; *) return 0 ;; esac; }
___eapi_has_pipestatus() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8) return 1 ;; *) return 0 ;; esac; }
___eapi_has_ver_replacing() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8) return 1 ;; *) return 0 ;; esac; }

# ---- banned commands (spec §3.0): calling them dies ----

___eapi_banned_dohard() { case ${EAPI:-0} in 0 | 1 | 2 | 3) return 1 ;; *) return 0 ;; esac; }
___eapi_banned_dosed() { case ${EAPI:-0} in 0 | 1 | 2 | 3) return 1 ;; *) return 0 ;; esac; }
___eapi_banned_einstall() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; *) return 0 ;; esac; }
___eapi_banned_dohtml() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6) return 1 ;; *) return 0 ;; esac; }
___eapi_banned_dolib() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6) return 1 ;; *) return 0 ;; esac; }
___eapi_banned_libopts() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6) return 1 ;; *) return 0 ;; esac; }
___eapi_banned_prepstrip() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6) return 1 ;; *) return 0 ;; esac; }
___eapi_banned_prepinfo() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6) return 1 ;; *) return 0 ;; esac; }
___eapi_banned_prepman() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6) return 1 ;; *) return 0 ;; esac; }
___eapi_banned_useq() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7) return 1 ;; *) return 0 ;; esac; }
___eapi_banned_hasv() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7) return 1 ;; *) return 0 ;; esac; }
___eapi_banned_hasq() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7) return 1 ;; *) return 0 ;; esac; }
___eapi_banned_assert() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8) return 1 ;; *) return 0 ;; esac; }
___eapi_banned_domo() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8) return 1 ;; *) return 0 ;; esac; }

# ---- unpack (spec §3.5) ----

# Suffixes match case-insensitively (before: case-sensitive, a wrong case extracts with a QA notice).
___eapi_unpack_case_insensitive() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; *) return 0 ;; esac; }
# Arguments may be absolute or relative paths without `./`.
___eapi_unpack_any_path() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; *) return 0 ;; esac; }
# .xz and .tar.xz.
___eapi_has_xz() { case ${EAPI:-0} in 0 | 1 | 2) return 1 ;; *) return 0 ;; esac; }
___eapi_has_txz() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; *) return 0 ;; esac; }
# .7z, .rar, .lha/.lzh.
___eapi_has_7z_rar_lha() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7) return 0 ;; *) return 1 ;; esac; }

# ---- econf (spec §3.6 step 4) ----

___eapi_econf_passes_disable_dependency_tracking() { case ${EAPI:-0} in 0 | 1 | 2 | 3) return 1 ;; *) return 0 ;; esac; }
___eapi_econf_passes_disable_silent_rules() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4) return 1 ;; *) return 0 ;; esac; }
___eapi_econf_passes_docdir_htmldir() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; *) return 0 ;; esac; }
___eapi_econf_passes_with_sysroot() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6) return 1 ;; *) return 0 ;; esac; }
___eapi_econf_passes_datarootdir() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7) return 1 ;; *) return 0 ;; esac; }
___eapi_econf_passes_disable_static() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7) return 1 ;; *) return 0 ;; esac; }

# ---- install helpers (spec §3.9, §3.10) ----

# doins (and dodoc, doheader …) follow symlinks instead of installing them as symlinks.
___eapi_doins_follows_symlinks() { case ${EAPI:-0} in 0 | 1 | 2 | 3) return 0 ;; *) return 1 ;; esac; }
# new* read stdin when the source is `-`.
___eapi_newins_stdin() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4) return 1 ;; *) return 0 ;; esac; }
# dodoc: -r, directories fail instead of being skipped, empty files are installed.
___eapi_dodoc_recursive() { case ${EAPI:-0} in 0 | 1 | 2 | 3) return 1 ;; *) return 0 ;; esac; }
# doheader, doconfd, doenvd, doinitd honour insopts/exeopts (8+: fixed modes).
___eapi_helpers_honour_opts() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7) return 0 ;; *) return 1 ;; esac; }
# domo installs under DESTTREE (7+: under /usr).
___eapi_domo_uses_desttree() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6) return 0 ;; *) return 1 ;; esac; }
# doman takes the language from names like foo.de.1.
___eapi_doman_lang_from_name() { case ${EAPI:-0} in 0 | 1) return 1 ;; *) return 0 ;; esac; }
# doman: an explicit -i18n= beats the language in the name.
___eapi_doman_i18n_wins() { case ${EAPI:-0} in 0 | 1 | 2 | 3) return 1 ;; *) return 0 ;; esac; }
___eapi_has_dosym_r() { case ${EAPI:-0} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7) return 1 ;; *) return 0 ;; esac; }
