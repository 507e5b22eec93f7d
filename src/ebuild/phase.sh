#!/usr/bin/env bash
# ouzo's phase driver: runs ONE ebuild phase (build spec §1.7) in a fresh bash.
#
#   bash phase.sh <phase>        phase: pretend setup unpack prepare configure compile test install
#                                       preinst postinst prerm postrm config info nofetch
#
# Everything it needs comes from the environment the TS side (src/build/phaseEnv.ts) builds:
# the PM variables of spec §2.1, PORTAGE_BIN_PATH (this directory), PORTAGE_ECLASS_LOCATIONS, and
# __OUZO_CTL (an fd to ouzo for has_version/best_version). The state of earlier phases is
# ${T}/environment (spec §2.5); ouzo decides which phases run (markers, §1.8) and reads
# ${T}/.ouzo_die after a failure.

__ouzo_phase=$1
EBUILD_MASTER_PID=${BASHPID}
export EBUILD_MASTER_PID

# ---- 1. the shell itself ----
shopt -u patsub_replacement globskipdots 2>/dev/null
case ${EAPI} in 0 | 1 | 2 | 3 | 4 | 5) BASH_COMPAT=3.2 ;; 6 | 7) BASH_COMPAT=4.2 ;; 8) BASH_COMPAT=5.0 ;; esac
shopt -s extglob
unalias -a
unset BASH_ENV GZIP BZIP BZIP2 CDPATH GREP_OPTIONS GREP_COLOR GLOBIGNORE
umask 022

# ---- 2. the PM's functions ----
__OUZO_LIB_ONLY=1 source "${PORTAGE_BIN_PATH}/ebuild.sh" || exit 1
unset __OUZO_LIB_ONLY
source "${PORTAGE_BIN_PATH}/helpers/_lib.sh" || exit 1
source "${PORTAGE_BIN_PATH}/eapi.sh" || exit 1
source "${PORTAGE_BIN_PATH}/eapiPhases.sh" || exit 1
source "${PORTAGE_BIN_PATH}/helpers.sh" || exit 1
export PATH="${PORTAGE_BIN_PATH}/helpers:${PATH}"

if [[ -z ${NOCOLOR} && -z ${NO_COLOR} ]]; then
	__C_GOOD=$'\e[32;01m' __C_WARN=$'\e[33;01m' __C_BAD=$'\e[31;01m' __C_NORMAL=$'\e[0m' __C_HILITE=$'\e[36;01m'
else
	__C_GOOD= __C_WARN= __C_BAD= __C_NORMAL= __C_HILITE=
fi

# Output (spec §3.4): stderr, echo -e escapes, each line logged for elog under ${T}/logging.
__ouzo_elog_log() {
	local type=$1 line
	shift
	[[ -d ${T}/logging ]] || return 0
	while IFS= read -r line; do
		printf '%s %s\n' "${type}" "${line}"
	done <<<"$(echo -e "$*")" >>"${T}/logging/${EBUILD_PHASE:-other}"
}
einfo() { echo -e " ${__C_GOOD}*${__C_NORMAL} $*" >&2; __ouzo_elog_log INFO "$*"; }
einfon() { echo -ne " ${__C_GOOD}*${__C_NORMAL} $*" >&2; __ouzo_elog_log INFO "$*"; }
elog() { echo -e " ${__C_GOOD}*${__C_NORMAL} $*" >&2; __ouzo_elog_log LOG "$*"; }
ewarn() { echo -e " ${__C_WARN}*${__C_NORMAL} $*" >&2; __ouzo_elog_log WARN "$*"; }
eerror() { echo -e " ${__C_BAD}*${__C_NORMAL} $*" >&2; __ouzo_elog_log ERROR "$*"; }
eqawarn() { echo -e " ${__C_WARN}*${__C_NORMAL} $*" >&2; __ouzo_elog_log QA "$*"; }
__OUZO_EBEGIN=0
ebegin() {
	local msg="$* ..."
	echo -e " ${__C_GOOD}*${__C_NORMAL} ${msg}" >&2
	__ouzo_elog_log INFO "${msg}"
	((__OUZO_EBEGIN++))
	return 0
}
eend() {
	(($# >= 1)) || die "eend: a status argument is required"
	local status=$1
	shift
	((__OUZO_EBEGIN > 0)) && ((__OUZO_EBEGIN--))
	if [[ ${status} == 0 ]]; then
		echo -e "   ${__C_HILITE}[ ${__C_GOOD}ok${__C_HILITE} ]${__C_NORMAL}" >&2
	else
		(($#)) && eerror "$*"
		echo -e "   ${__C_HILITE}[ ${__C_BAD}!!${__C_HILITE} ]${__C_NORMAL}" >&2
	fi
	return "${status}"
}
ewend() { eend "$@"; }

debug-print() {
	[[ -d ${T} ]] || return 0
	local a
	for a in "$@"; do
		printf '%s\n' "${a}" >>"${T}/eclass-debug.log"
		case ${ECLASS_DEBUG_OUTPUT} in
			'') ;;
			on) echo "debug: ${a}" >&2 ;;
			*) echo "debug: ${a}" >>"${ECLASS_DEBUG_OUTPUT}" ;;
		esac
	done
}
debug-print-function() { debug-print "${1}: entering function, parameters: ${*:2}"; }
debug-print-section() { debug-print "now in section $*"; }

# ---- die (spec §3.1) ----
die() {
	if [[ $1 == -n ]]; then
		shift
		if ___eapi_phase_die_can_respect_nonfatal && [[ ${PORTAGE_NONFATAL} == 1 ]]; then
			[[ $# -gt 0 ]] && eerror "$*"
			return 1
		fi
	fi
	set +e
	local msg="${*:-(no error message)}" n where stack=()
	for ((n = 1; n < ${#FUNCNAME[@]}; n++)); do
		case ${FUNCNAME[n]} in __ouzo_* | __dyn_* | die | main | source) continue ;; esac
		stack+=("${BASH_SOURCE[n]##*/}, line ${BASH_LINENO[n - 1]}: called ${FUNCNAME[n]}")
	done
	where="${BASH_SOURCE[1]##*/}, line ${BASH_LINENO[0]}"
	{
		eerror "ERROR: ${CATEGORY}/${PF}::${PORTAGE_REPO_NAME} failed (${EBUILD_PHASE} phase):"
		eerror "  ${msg}"
		eerror ""
		eerror "Call stack (innermost first): ${where}"
		for n in "${stack[@]}"; do eerror "  ${n}"; done
		[[ -n ${ECLASS} ]] && eerror "  in eclass ${ECLASS}"
		eerror ""
		[[ -n ${PORTAGE_LOG_FILE} ]] && eerror "The complete build log is located at '${PORTAGE_LOG_FILE}'."
		[[ -f ${T}/environment ]] && eerror "The ebuild environment file is located at '${T}/environment'."
		eerror "Working directory: '${PWD}'"
		[[ -n ${S} ]] && eerror "S: '${S}'"
	} 2>&1 | cat >&2
	local hook
	for hook in ${EBUILD_DEATH_HOOKS}; do
		declare -F "${hook}" >/dev/null && "${hook}"
	done
	__ouzo_fatal "${where}: ${msg}"
}

# A die in a subshell or an external helper TERMs the master (spec §1.7).
__ouzo_on_term() {
	if [[ -s ${T}/.ouzo_die ]]; then
		exit 1
	fi
	echo "ouzo: ${CATEGORY}/${PF}: ${EBUILD_PHASE} phase terminated" >&2
	exit 143
}
trap __ouzo_on_term TERM

# ---- has_version / best_version (spec §3.13): asked of ouzo over __OUZO_CTL ----
__ouzo_query() {
	local kind=$1 which=
	shift
	case $1 in
		-r | -d | -b)
			___eapi_phase_has_version_root_options || die "${kind}: option $1 is not allowed in EAPI ${EAPI}"
			which=${1#-}
			shift
			;;
		--host-root)
			___eapi_phase_has_version_host_root || die "${kind}: --host-root is not allowed in EAPI ${EAPI}"
			which=b
			shift
			;;
	esac
	(($# == 1)) || die "${kind}: exactly one atom expected, got $#: $*"
	[[ -n ${__OUZO_CTL} ]] || die "${kind}: no connection to ouzo in this phase"
	local reply
	printf '%s\t%s\t%s\n' "${kind}" "${which:-r}" "$1" >&"${__OUZO_CTL}"
	IFS= read -r reply <&"${__OUZO_CTL}" || die "${kind}: ouzo did not answer"
	case ${reply} in
		yes) return 0 ;;
		no) return 1 ;;
		best\ *)
			echo "${reply#best }"
			return 0
			;;
		none)
			echo
			return 1
			;;
		error\ *) die "${kind} $1: ${reply#error }" ;;
		*) die "${kind}: unexpected answer '${reply}'" ;;
	esac
}
has_version() { __ouzo_query has_version "$@"; }
best_version() { __ouzo_query best_version "$@"; }

# ---- default phase functions (spec §1.5) ----
__ouzo_has_makefile() { [[ -f Makefile || -f GNUmakefile || -f makefile ]]; }

__ouzo_default_pkg_nofetch() {
	[[ -n ${A} ]] || return 0
	elog "The following files cannot be fetched for ${PN}:"
	local f
	for f in ${A}; do elog "   ${f}"; done
}
__ouzo_default_src_unpack() { [[ -n ${A} ]] && unpack ${A}; return 0; }
__ouzo_default_src_prepare() {
	___eapi_phase_default_src_prepare_applies_patches || return 0
	if [[ $(declare -p PATCHES 2>/dev/null) == "declare -a"* ]]; then
		if ((${#PATCHES[@]})); then
			if ___eapi_phase_eapply_takes_double_dash; then eapply -- "${PATCHES[@]}"; else eapply "${PATCHES[@]}"; fi
		fi
	elif [[ -n ${PATCHES} ]]; then
		if ___eapi_phase_eapply_takes_double_dash; then eapply -- ${PATCHES}; else eapply ${PATCHES}; fi
	fi
	eapply_user
}
__ouzo_default_src_configure() {
	___eapi_phase_has_src_configure || return 0
	[[ -x ${ECONF_SOURCE:-.}/configure ]] && econf
	return 0
}
__ouzo_default_src_compile() {
	if ___eapi_phase_src_compile_runs_econf; then
		if ___eapi_phase_econf_source_in_src_compile; then
			[[ -x ${ECONF_SOURCE:-.}/configure ]] && econf
		else
			[[ -x ./configure ]] && econf
		fi
	fi
	if __ouzo_has_makefile; then
		emake || die "emake failed"
	fi
	return 0
}
__ouzo_default_src_test() {
	local -a jobs=()
	___eapi_phase_src_test_parallel || jobs=(-j1)
	local makeopts=${MAKEOPTS}
	[[ -n ${MAKEFLAGS} ]] && makeopts=
	__ouzo_has_makefile || return 0
	local target
	for target in check test; do
		${MAKE:-make} "${target}" -n &>/dev/null || continue
		echo "${MAKE:-make} ${makeopts} ${EXTRA_EMAKE} ${jobs[*]} ${target}" >&2
		${MAKE:-make} ${makeopts} ${EXTRA_EMAKE} "${jobs[@]}" "${target}" || die "make ${target} failed"
		break
	done
	return 0
}
__ouzo_default_src_install() {
	if ___eapi_phase_default_src_install_is_einstalldocs; then
		if __ouzo_has_makefile; then emake DESTDIR="${D}" install || die "emake install failed"; fi
		einstalldocs
	elif ___eapi_phase_has_default_src_install; then
		if __ouzo_has_makefile; then emake DESTDIR="${D}" install || die "emake install failed"; fi
		if ! declare -p DOCS &>/dev/null; then
			local d
			for d in README* ChangeLog AUTHORS NEWS TODO CHANGES THANKS BUGS FAQ CREDITS CHANGELOG; do
				[[ -s ${d} ]] && dodoc "${d}"
			done
		elif [[ $(declare -p DOCS) == "declare -a"* ]]; then
			((${#DOCS[@]})) && dodoc "${DOCS[@]}"
		else
			[[ -n ${DOCS} ]] && dodoc ${DOCS}
		fi
	fi
	return 0
}

# `default` and default_<phase function> (EAPI 2+), callable only in their own phase.
__ouzo_define_defaults() {
	___eapi_phase_has_default || return 0
	local f
	for f in pkg_nofetch src_unpack src_prepare src_configure src_compile src_test src_install; do
		[[ ${f} == src_install ]] && ! ___eapi_phase_has_default_src_install && continue
		eval "default_${f}() {
			[[ \${EBUILD_PHASE_FUNC} == ${f} ]] || die \"default_${f} is not supported in EAPI \${EAPI} in phase \${EBUILD_PHASE_FUNC}\"
			__ouzo_default_${f} \"\$@\"
		}"
	done
	default() {
		declare -F "default_${EBUILD_PHASE_FUNC}" >/dev/null ||
			die "default is not supported in EAPI ${EAPI} in phase ${EBUILD_PHASE_FUNC}"
		"default_${EBUILD_PHASE_FUNC}"
	}
}
__ouzo_define_defaults

# ---- the saved environment (spec §2.5) ----
__ouzo_is_saved_var() {
	case $1 in
		BASH* | FUNCNAME | PIPESTATUS | GROUPS | PPID | UID | EUID | SHELLOPTS | SHLVL | SECONDS | RANDOM | SRANDOM | LINENO | \
			HISTCMD | DIRSTACK | OPTIND | OPTARG | OPTERR | HOSTNAME | HOSTTYPE | MACHTYPE | OSTYPE | EPOCHREALTIME | EPOCHSECONDS | \
			COLUMNS | LINES | PS[1-4] | HIST* | IFS | COMP_WORDBREAKS | MAILCHECK | _ | PWD | OLDPWD | HOME | TMPDIR | TMP | TEMP | \
			TERM | COLORTERM | DISPLAY | XAUTHORITY | SSH_* | XDG_* | LS_COLORS | EDITOR | PAGER | USER | LOGNAME | *_proxy | \
			EBUILD_MASTER_PID | ECLASS_DEPTH | PORTAGE_NONFATAL | XARGS | LD_PRELOAD | ROOT | EROOT | DISTDIR | PKGDIR | ACCEPT_LICENSE | \
			USE_EXPAND | CCACHE_* | DISTCC_* | INSTALL_MASK | PKG_INSTALL_MASK | DOC_SYMLINKS_DIR | FEATURES | PORTAGE_FEATURES | \
			D | ED | T | WORKDIR | EBUILD_PHASE | EBUILD_PHASE_FUNC | MERGE_TYPE | REPLACING_VERSIONS | REPLACED_BY_VERSION | \
			SYSROOT | ESYSROOT | BROOT | EPREFIX | PORTDIR | ECLASSDIR | AA | A | CATEGORY | P | PF | PN | PR | PV | PVR | \
			EBUILD | FILESDIR | USE | IUSE_EFFECTIVE | KV | PORTAGE_BIN_PATH | PORTAGE_BUILDDIR | PORTAGE_TMPDIR | PORTAGE_LOG_FILE | \
			PORTAGE_ACTUAL_DISTDIR | PORTAGE_CONFIGROOT | PORTAGE_REPO_NAME | PORTAGE_ECLASS_LOCATIONS | EMERGE_FROM | \
			PATH | LANG | LC_* | __C_* | __OUZO* | __ouzo* | ___* | __E_*) return 1 ;;
	esac
	return 0
}

# Print the shell state as bash source: variables with their attributes, then functions. The
# install variant (environment.bz2, spec §2.5) also drops what makes two builds of one package
# differ between machines.
__ouzo_dump_env() {
	local ___variant=$1
	(
		local ___n
		local -a ___names=()
		for ___n in $(compgen -v); do
			__ouzo_is_saved_var "${___n}" || continue
			if [[ ${___variant} == install ]]; then
				case ${___n} in S | PORTAGE_DOCOMPRESS* | PORTAGE_DOSTRIP* | MAKEFLAGS | MAKEOPTS | NINJAOPTS | SANDBOX_*) continue ;; esac
			fi
			___names+=("${___n}")
		done
		for ___n in "${__OUZO_PM_FUNCS[@]}"; do unset -f "${___n}" 2>/dev/null; done
		for ___n in $(compgen -A function); do
			case ${___n} in
				___* | __ouzo* | __dyn_*) unset -f "${___n}" ;;
			esac
		done
		((${#___names[@]})) && declare -p "${___names[@]}" 2>/dev/null | sed -e 's/^declare -\([a-zA-Z]*\)r\([a-zA-Z]*\) /declare -\1\2 /' -e 's/\x01//g'
		declare -fp
	)
}

__ouzo_save_env() {
	local ___tmp="${T}/.environment.$$"
	__ouzo_dump_env "$1" >"${___tmp}" && mv -f "${___tmp}" "$2"
}

# ---- the phase ----
# Marker names (spec §1.8): "." + phase without a final "e" + "ed".
__ouzo_marker() {
	local p=${1%e}
	echo "${PORTAGE_BUILDDIR}/.${p}ed"
}

__ouzo_phase_func() {
	case $1 in
		pretend | setup | preinst | postinst | prerm | postrm | config | info | nofetch) echo "pkg_$1" ;;
		*) echo "src_$1" ;;
	esac
}

# cd where the phase starts (spec §1.3, §1.4).
__ouzo_enter() {
	case ${EBUILD_PHASE} in
		unpack)
			cd "${WORKDIR}" || die "cannot enter WORKDIR '${WORKDIR}'"
			;;
		prepare | configure | compile | test | install)
			if [[ -d ${S} ]]; then
				cd "${S}" || die "cannot enter S '${S}'"
			elif ___eapi_phase_s_workdir_fallback_always; then
				cd "${WORKDIR}" || die "cannot enter WORKDIR '${WORKDIR}'"
			else
				local p ok=1
				[[ -n ${A} ]] && ok=
				for p in unpack prepare configure compile test install; do
					has "${p}" ${DEFINED_PHASES} && ok=
					[[ ${p} == "${EBUILD_PHASE}" ]] && break
				done
				[[ -n ${ok} ]] || die "The source directory '${S}' doesn't exist"
				cd "${WORKDIR}" || die "cannot enter WORKDIR '${WORKDIR}'"
			fi
			;;
		*)
			mkdir -p "${PORTAGE_BUILDDIR}/empty" 2>/dev/null
			cd "${PORTAGE_BUILDDIR}/empty" 2>/dev/null || cd /
			;;
	esac
}

# After a fresh sourcing: the metadata variables as generated, RESTRICT and PROPERTIES as USE
# evaluated them (ouzo computed them from the metadata).
__ouzo_after_source() {
	[[ ${EAPI} == "${__OUZO_HEAD_EAPI}" ]] || die "EAPI changed from ${__OUZO_HEAD_EAPI} (head) to ${EAPI} while sourcing"
	local v m
	for v in IUSE REQUIRED_USE DEPEND RDEPEND PDEPEND BDEPEND IDEPEND; do
		m=__OUZO_M_${v}
		__ouzo_norm "${!m}"
		printf -v "${v}" '%s' "${__ouzo_value}"
	done
	RESTRICT=${PORTAGE_RESTRICT} PROPERTIES=${PORTAGE_PROPERTIES}
}

__ouzo_begin_phase() {
	local ___func
	___func=$(__ouzo_phase_func "${__ouzo_phase}")
	EBUILD_PHASE=${__ouzo_phase}
	EBUILD_PHASE_FUNC=${___func}
	export EBUILD_PHASE EBUILD_PHASE_FUNC

}

__ouzo_run_phase() {
	local ___func
	___func=$(__ouzo_phase_func "${__ouzo_phase}")
	# a saved environment cannot change what this phase is
	EBUILD_PHASE=${__ouzo_phase} EBUILD_PHASE_FUNC=${___func}

	if [[ ${EBUILD_PHASE} == install ]]; then
		rm -rf "${D}"
		mkdir -p "${ED:-${D}}" || die "cannot create the image directory"
		__ouzo_reset_dest
		__ouzo_init_lists
	fi
	if [[ ${EBUILD_PHASE} == test ]] && has test ${FEATURES} && has test ${IUSE_EFFECTIVE}; then
		has test ${USE} || USE="${USE} test"
	fi
	local ___v
	for ___v in D ED T WORKDIR EBUILD_PHASE EBUILD_PHASE_FUNC MERGE_TYPE REPLACING_VERSIONS REPLACED_BY_VERSION FILESDIR EPREFIX EROOT BROOT EBUILD; do
		[[ -n ${!___v+x} ]] && readonly "${___v}"
	done

	__ouzo_enter
	# from here on the sandbox's rules are those the phase started with
	[[ -n ${__OUZO_SANDBOXED} ]] && __OUZO_SEALED=1
	declare -F "pre_${___func}" >/dev/null && { "pre_${___func}" || die "pre_${___func} failed"; }
	if declare -F "${___func}" >/dev/null; then
		"${___func}" || true
	elif declare -F "__ouzo_default_${___func}" >/dev/null; then
		"__ouzo_default_${___func}"
	fi
	[[ -s ${T}/.ouzo_die ]] && exit 1
	if [[ ${EBUILD_PHASE} == prepare ]] && ___eapi_phase_has_eapply_user && [[ ! -f ${T}/.portage_user_patches_applied ]]; then
		die "eapply_user (or default) must be called in src_prepare()"
	fi
	case ${EBUILD_PHASE} in
		pretend | info | nofetch | config | prerm | postrm) ;;
		*) : >"$(__ouzo_marker "${EBUILD_PHASE}")" ;;
	esac
	declare -F "post_${___func}" >/dev/null && { "post_${___func}" || die "post_${___func} failed"; }
	((__OUZO_EBEGIN > 0)) && eqawarn "QA Notice: ebegin called without eend in ${___func}"

	if [[ ${EBUILD_PHASE} == install ]]; then
		local ___x
		# the lists are newline-separated paths, which may hold blanks
		{
			while IFS= read -r ___x; do [[ -n ${___x} ]] && echo "+${___x}"; done <<<"${PORTAGE_DOCOMPRESS}"
			while IFS= read -r ___x; do [[ -n ${___x} ]] && echo "-${___x}"; done <<<"${PORTAGE_DOCOMPRESS_SKIP}"
		} >"${T}/.ouzo_docompress"
		{
			while IFS= read -r ___x; do [[ -n ${___x} ]] && echo "+${___x}"; done <<<"${PORTAGE_DOSTRIP}"
			while IFS= read -r ___x; do [[ -n ${___x} ]] && echo "-${___x}"; done <<<"${PORTAGE_DOSTRIP_SKIP}"
		} >"${T}/.ouzo_dostrip"
		__ouzo_save_env install "${T}/environment.install"
		# QA variables and build-info values the image step and the binary package read
		{
			for ___x in QA_PREBUILT QA_PRESTRIPPED QA_FLAGS_IGNORED QA_EXECSTACK QA_TEXTRELS QA_WX_LOAD QA_DT_NEEDED \
				QA_SONAME QA_MULTILIB_PATHS QA_CONFIGURE_OPTIONS QA_DESKTOP_FILE STRIP_MASK INSTALL_MASK PKG_INSTALL_MASK \
				CBUILD CC CFLAGS CHOST CTARGET CXX CXXFLAGS EXTRA_ECONF EXTRA_EINSTALL EXTRA_MAKE LDFLAGS ASFLAGS \
				LIBCFLAGS LIBCXXFLAGS PROVIDES_EXCLUDE REQUIRES_EXCLUDE; do
				[[ -n ${!___x} ]] && printf '%s=%s\0' "${___x}" "${!___x}"
			done
		} >"${T}/.ouzo_install_vars"
	fi
	case ${EBUILD_PHASE} in
		pretend | info | nofetch | config | prerm | postrm) ;;
		*)
			__ouzo_save_env phase "${T}/environment" || die "saving the environment failed"
			# after pkg_preinst and pkg_postinst, what they set reaches pkg_prerm/pkg_postrm through the vdb (spec §2.5)
			case ${EBUILD_PHASE} in preinst | postinst) __ouzo_save_env install "${T}/environment.install" ;; esac
			# S as the ebuild set it, for the phase headers ouzo prints (">>> Compiling source in S")
			printf '%s\n' "${S}" >"${T}/.ouzo_S"
			# addwrite paths, for the sandbox rules of the next phases (spec §8.8)
			printf '%s\n' ${SANDBOX_WRITE//:/ } >"${T}/.ouzo_sandbox_write"
			;;
	esac
}

[[ -n ${__ouzo_phase} ]] || { echo "usage: phase.sh <phase>" >&2; exit 2; }
__ouzo_begin_phase
# the PM's functions, remembered so the saved environment leaves them out
__OUZO_PM_FUNCS=($(compgen -A function))
# The package's state, sourced here at top level so that its `declare`s are global: fresh (the
# bashrcs, then the ebuild with its eclasses, as in the depend phase) or the saved environment.
if [[ -n ${__OUZO_FRESH} || ! -f ${T}/environment ]]; then
	for __ouzo_f in ${__OUZO_BASHRCS}; do
		if [[ -f ${__ouzo_f} ]]; then source "${__ouzo_f}" || die "sourcing ${__ouzo_f} failed"; fi
	done
	unset __ouzo_f
	___eapi_phase_failglob_in_global_scope && shopt -s failglob
	__ouzo_begin_source
	source "${EBUILD}" || die "error sourcing the ebuild"
	shopt -u failglob
	__ouzo_end_source
	__ouzo_after_source
else
	source "${T}/environment" || die "sourcing the saved environment failed"
fi
__ouzo_run_phase
exit 0
