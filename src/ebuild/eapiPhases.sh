# What each EAPI says about phases and their defaults (PMS 9; build spec §1.5, §1.9), one
# predicate per rule, for phase.sh. The helpers' rules are in eapi.sh.

___eapi_phase_has_src_configure() { case ${EAPI} in 0 | 1) return 1 ;; esac; }
___eapi_phase_has_default() { case ${EAPI} in 0 | 1) return 1 ;; esac; }
___eapi_phase_has_default_src_install() { case ${EAPI} in 0 | 1 | 2 | 3) return 1 ;; esac; }
___eapi_phase_default_src_install_is_einstalldocs() { case ${EAPI} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; esac; }
___eapi_phase_default_src_prepare_applies_patches() { case ${EAPI} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; esac; }
___eapi_phase_has_eapply_user() { case ${EAPI} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; esac; }
___eapi_phase_eapply_takes_double_dash() { case ${EAPI} in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7) return 1 ;; esac; }
___eapi_phase_src_compile_runs_econf() { case ${EAPI} in 0 | 1) return 0 ;; esac; return 1; }
___eapi_phase_econf_source_in_src_compile() { [[ ${EAPI} == 1 ]]; }
___eapi_phase_src_test_parallel() { case ${EAPI} in 0 | 1 | 2 | 3 | 4) return 1 ;; esac; }
___eapi_phase_s_workdir_fallback_always() { case ${EAPI} in 0 | 1 | 2 | 3) return 0 ;; esac; return 1; }
___eapi_phase_failglob_in_global_scope() { case ${EAPI} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; esac; }
___eapi_phase_die_can_respect_nonfatal() { case ${EAPI} in 0 | 1 | 2 | 3 | 4 | 5) return 1 ;; esac; }
___eapi_phase_has_version_root_options() { case ${EAPI} in 0 | 1 | 2 | 3 | 4 | 5 | 6) return 1 ;; esac; }
___eapi_phase_has_version_host_root() { case ${EAPI} in 5 | 6) return 0 ;; esac; return 1; }
