#!/usr/bin/env bash
# ouzo's ebuild.sh: the depend phase (metadata generation) of PMS, the way MARK's Portage runs it.
#
# Two ways in:
#  * Portage-compatible: EBUILD, EBUILD_PHASE=depend, CATEGORY/PF/..., EAPI, PORTAGE_ECLASS_LOCATIONS
#    and PORTAGE_PIPE_FD in the environment; `bash ebuild.sh` writes the 22 positional lines to
#    that fd.
#  * Worker: `bash ebuild.sh --worker`: reads one request per line on stdin and answers on fd 3;
#    each ebuild is sourced in a forked subshell, so nothing it defines survives it.
#
# Funtoo's "nodie" rule holds: PATH stays /bin:/usr/bin and an unknown command at global scope only
# prints "command not found" and returns 127; sourcing goes on. Phase helpers (use, usex, …) are not
# defined in this phase.

shopt -s extglob
export LC_COLLATE=POSIX

# ---- helpers available at global scope (isolated-functions in Portage) ----

die() {
	local msg="$*"
	echo "ERROR: ${CATEGORY}/${PF}::depend: ${msg:-(no error message)}" >&2
	if [[ -n ${ECLASS} ]]; then echo "  in eclass ${ECLASS}" >&2; fi
	exit 1
}

assert() {
	local x pipestatus=${PIPESTATUS[*]}
	for x in ${pipestatus}; do [[ ${x} -eq 0 ]] || die "$@"; done
}

has() {
	local needle=$1 x
	shift
	for x in "$@"; do [[ ${x} == "${needle}" ]] && return 0; done
	return 1
}
hasq() { has "$@"; }
hasv() { has "$@" && echo "$1"; }

einfo() { echo " * $*" >&2; }
elog() { einfo "$@"; }
ewarn() { echo " * $*" >&2; }
eerror() { echo " * $*" >&2; }
eqawarn() { echo " * QA: $*" >&2; }
einfon() { echo -n " * $*" >&2; }
ebegin() { echo " * $* ..." >&2; }
eend() { return "${1:-0}"; }
debug-print() { :; }
debug-print-function() { :; }
debug-print-section() { :; }

# ---- EAPI 7 version functions (used at global scope, e.g. MY_PV=$(ver_rs 1- _)) ----

# Split a version into separators and components, alternating: sep0 comp1 sep1 comp2 … [trailing sep].
__ver_split() {
	local v=$1 sep c
	__ver_comps=()
	while [[ -n ${v} ]]; do
		sep=${v%%[a-zA-Z0-9]*}
		v=${v:${#sep}}
		if [[ ${v} == [0-9]* ]]; then
			c=${v%%[^0-9]*}
		elif [[ -n ${v} ]]; then
			c=${v%%[^a-zA-Z]*}
		else
			__ver_comps+=("${sep}")
			break
		fi
		__ver_comps+=("${sep}" "${c}")
		v=${v:${#c}}
	done
}

# Parse a range "N", "N-" or "N-M" into __ver_start/__ver_end, the end clamped to $2.
__ver_range() {
	local spec=$1 max=$2
	if [[ ${spec} == *-* ]]; then
		__ver_start=${spec%%-*}
		__ver_end=${spec#*-}
		[[ -z ${__ver_end} ]] && __ver_end=${max}
	else
		__ver_start=${spec}
		__ver_end=${spec}
	fi
	[[ ${__ver_start} =~ ^[0-9]+$ && ${__ver_end} =~ ^[0-9]+$ ]] || die "ver: invalid range '${spec}'"
	((__ver_end > max)) && __ver_end=${max}
}

ver_cut() {
	local range=$1 v=${2-${PV}} k out= ncomp
	__ver_split "${v}"
	ncomp=$((${#__ver_comps[@]} / 2))
	__ver_range "${range}" "${ncomp}"
	for ((k = __ver_start; k <= __ver_end; k++)); do
		((k < 1)) && continue
		((k > __ver_start && k > 1)) && out+=${__ver_comps[2 * k - 2]}
		out+=${__ver_comps[2 * k - 1]}
	done
	echo "${out}"
}

ver_rs() {
	local -a args=("$@")
	local v=${PV} n k ncomp len
	if (($# % 2 == 1)); then
		v=${args[$# - 1]}
		unset 'args[$# - 1]'
	fi
	__ver_split "${v}"
	len=${#__ver_comps[@]}
	ncomp=$((len / 2))
	for ((n = 0; n + 1 < ${#args[@]}; n += 2)); do
		__ver_range "${args[n]}" "${ncomp}"
		for ((k = __ver_start; k <= __ver_end; k++)); do
			# separator k sits before component k+1; the leading and trailing ones only if present
			if ((k == 0)); then
				[[ -n ${__ver_comps[0]} ]] && __ver_comps[0]=${args[n + 1]}
			elif ((k < ncomp || 2 * k < len)); then
				__ver_comps[2 * k]=${args[n + 1]}
			fi
		done
	done
	local IFS=
	echo "${__ver_comps[*]}"
}

ver_test() {
	local va op vb
	if (($# == 2)); then va=${PVR}; op=$1; vb=$2; else va=$1; op=$2; vb=$3; fi
	__ouzo_vercmp "${va}" "${vb}" || die "ver_test: invalid version"
	case ${op} in
		-eq) ((__ouzo_cmp == 0)) ;;
		-ne) ((__ouzo_cmp != 0)) ;;
		-lt) ((__ouzo_cmp < 0)) ;;
		-le) ((__ouzo_cmp <= 0)) ;;
		-gt) ((__ouzo_cmp > 0)) ;;
		-ge) ((__ouzo_cmp >= 0)) ;;
		*) die "ver_test: invalid operator '${op}'" ;;
	esac
}

# PMS 3.3 comparison in bash, for ver_test at global scope: sets __ouzo_cmp to -1, 0 or 1 (no
# subshell, no here-string: ebuilds call ver_test in loops, and each fork costs ~0.5 ms).
__ouzo_vercmp() {
	local re='^([0-9]+(\.[0-9]+)*)([a-z]?)((_(alpha|beta|pre|rc|p)[0-9]*)*)(-r([0-9]+))?$'
	[[ $1 =~ ${re} ]] || return 1
	local an=${BASH_REMATCH[1]} al=${BASH_REMATCH[3]} as=${BASH_REMATCH[4]} ar=${BASH_REMATCH[8]:-0}
	[[ $2 =~ ${re} ]] || return 1
	local bn=${BASH_REMATCH[1]} bl=${BASH_REMATCH[3]} bs=${BASH_REMATCH[4]} br=${BASH_REMATCH[8]:-0}
	local -a A B S T
	local IFS=.
	A=(${an})
	B=(${bn})
	IFS=_
	S=(${as#_})
	T=(${bs#_})
	IFS=$' \t\n'
	local i x y
	x=$((10#${A[0]})) y=$((10#${B[0]}))
	((x < y)) && { __ouzo_cmp=-1; return 0; }
	((x > y)) && { __ouzo_cmp=1; return 0; }
	for ((i = 1; i < ${#A[@]} && i < ${#B[@]}; i++)); do
		x=${A[i]} y=${B[i]}
		if [[ ${x} == 0* || ${y} == 0* ]]; then
			x=${x%%+(0)} y=${y%%+(0)}
			[[ ${x} < ${y} ]] && { __ouzo_cmp=-1; return 0; }
			[[ ${x} > ${y} ]] && { __ouzo_cmp=1; return 0; }
		else
			((10#${x} < 10#${y})) && { __ouzo_cmp=-1; return 0; }
			((10#${x} > 10#${y})) && { __ouzo_cmp=1; return 0; }
		fi
	done
	((${#A[@]} < ${#B[@]})) && { __ouzo_cmp=-1; return 0; }
	((${#A[@]} > ${#B[@]})) && { __ouzo_cmp=1; return 0; }
	[[ ${al} < ${bl} ]] && { __ouzo_cmp=-1; return 0; }
	[[ ${al} > ${bl} ]] && { __ouzo_cmp=1; return 0; }
	local -A rank=([alpha]=0 [beta]=1 [pre]=2 [rc]=3 [p]=5)
	for ((i = 0; i < ${#S[@]} && i < ${#T[@]}; i++)); do
		local sn=${S[i]%%[0-9]*} tn=${T[i]%%[0-9]*} sv=${S[i]##*[a-z]} tv=${T[i]##*[a-z]}
		((rank[${sn}] < rank[${tn}])) && { __ouzo_cmp=-1; return 0; }
		((rank[${sn}] > rank[${tn}])) && { __ouzo_cmp=1; return 0; }
		((10#${sv:-0} < 10#${tv:-0})) && { __ouzo_cmp=-1; return 0; }
		((10#${sv:-0} > 10#${tv:-0})) && { __ouzo_cmp=1; return 0; }
	done
	if ((${#S[@]} > ${#T[@]})); then
		[[ ${S[i]} == p* && ${S[i]} != pre* ]] && __ouzo_cmp=1 || __ouzo_cmp=-1
		return 0
	fi
	if ((${#S[@]} < ${#T[@]})); then
		[[ ${T[i]} == p* && ${T[i]} != pre* ]] && __ouzo_cmp=-1 || __ouzo_cmp=1
		return 0
	fi
	((10#${ar} < 10#${br})) && { __ouzo_cmp=-1; return 0; }
	((10#${ar} > 10#${br})) && { __ouzo_cmp=1; return 0; }
	__ouzo_cmp=0
}

# ---- inherit and EXPORT_FUNCTIONS (PMS 10) ----

# This function runs dozens of times per ebuild: it is written out variable by variable, with no
# loops over names and no indirection, because that is what bash executes fastest. $'\x01' stands
# for "was unset".
inherit() {
	local __e __loc __file
	for __e in "$@"; do
		__file=
		for __loc in "${__OUZO_LOCATIONS[@]}"; do
			if [[ -f ${__loc}/eclass/${__e}.eclass ]]; then
				__file=${__loc}/eclass/${__e}.eclass
				break
			fi
		done
		[[ -n ${__file} ]] || die "inherit: eclass '${__e}' not found"
		# Save what the ebuild (or the inheriting eclass) has set; the eclass starts from nothing.
		local __b_iuse=${IUSE-$'\x01'} __b_ruse=${REQUIRED_USE-$'\x01'} __b_dep=${DEPEND-$'\x01'} \
			__b_rdep=${RDEPEND-$'\x01'} __b_pdep=${PDEPEND-$'\x01'} __b_bdep=${BDEPEND-$'\x01'} \
			__b_idep=${IDEPEND-$'\x01'} __b_props=${PROPERTIES-$'\x01'} __b_restrict=${RESTRICT-$'\x01'}
		unset IUSE REQUIRED_USE DEPEND RDEPEND PDEPEND BDEPEND IDEPEND
		[[ -n ${__OUZO_ACC_PR} ]] && unset PROPERTIES RESTRICT
		local ECLASS=${__e} __OUZO_EXPORTS=
		source "${__file}" || die "inherit: sourcing eclass '${__e}' failed"
		# fast path: a guarded re-inherit sets nothing
		if [[ -n ${IUSE}${REQUIRED_USE}${DEPEND}${RDEPEND}${PDEPEND}${BDEPEND}${IDEPEND} ]]; then
			[[ -n ${IUSE} ]] && __OUZO_ACC_IUSE+=" ${IUSE}"
			[[ -n ${REQUIRED_USE} ]] && __OUZO_ACC_REQUIRED_USE+=" ${REQUIRED_USE}"
			[[ -n ${DEPEND} ]] && __OUZO_ACC_DEPEND+=" ${DEPEND}"
			[[ -n ${RDEPEND} ]] && __OUZO_ACC_RDEPEND+=" ${RDEPEND}"
			[[ -n ${PDEPEND} ]] && __OUZO_ACC_PDEPEND+=" ${PDEPEND}"
			[[ -n ${BDEPEND} ]] && __OUZO_ACC_BDEPEND+=" ${BDEPEND}"
			[[ -n ${IDEPEND} ]] && __OUZO_ACC_IDEPEND+=" ${IDEPEND}"
		fi
		# fast path: nothing was set before the inherit (inherit usually comes first)
		if [[ ${__b_iuse}${__b_ruse}${__b_dep}${__b_rdep}${__b_pdep}${__b_bdep}${__b_idep} == $'\x01\x01\x01\x01\x01\x01\x01' ]]; then
			unset IUSE REQUIRED_USE DEPEND RDEPEND PDEPEND BDEPEND IDEPEND
		else
			if [[ ${__b_iuse} == $'\x01' ]]; then unset IUSE; else IUSE=${__b_iuse}; fi
			if [[ ${__b_ruse} == $'\x01' ]]; then unset REQUIRED_USE; else REQUIRED_USE=${__b_ruse}; fi
			if [[ ${__b_dep} == $'\x01' ]]; then unset DEPEND; else DEPEND=${__b_dep}; fi
			if [[ ${__b_rdep} == $'\x01' ]]; then unset RDEPEND; else RDEPEND=${__b_rdep}; fi
			if [[ ${__b_pdep} == $'\x01' ]]; then unset PDEPEND; else PDEPEND=${__b_pdep}; fi
			if [[ ${__b_bdep} == $'\x01' ]]; then unset BDEPEND; else BDEPEND=${__b_bdep}; fi
			if [[ ${__b_idep} == $'\x01' ]]; then unset IDEPEND; else IDEPEND=${__b_idep}; fi
		fi
		if [[ -n ${__OUZO_ACC_PR} ]]; then
			# EAPI 8: PROPERTIES and RESTRICT accumulate too
			[[ -n ${PROPERTIES} ]] && __OUZO_ACC_PROPERTIES+=" ${PROPERTIES}"
			[[ -n ${RESTRICT} ]] && __OUZO_ACC_RESTRICT+=" ${RESTRICT}"
			if [[ ${__b_props} == $'\x01' ]]; then unset PROPERTIES; else PROPERTIES=${__b_props}; fi
			if [[ ${__b_restrict} == $'\x01' ]]; then unset RESTRICT; else RESTRICT=${__b_restrict}; fi
		fi
		if [[ -n ${__OUZO_EXPORTS} ]]; then
			local __f
			for __f in ${__OUZO_EXPORTS}; do
				eval "${__f}() { ${__e}_${__f} \"\$@\"; }"
			done
		fi
		if [[ -z ${__OUZO_INHERITED[${__e}]} ]]; then
			__OUZO_INHERITED[${__e}]=1
			INHERITED+=" ${__e}"
			__OUZO_ECLASS_FILES+=" ${__e}=${__file}"
		fi
	done
}

EXPORT_FUNCTIONS() {
	[[ -n ${ECLASS} ]] || die "EXPORT_FUNCTIONS without an eclass"
	__OUZO_EXPORTS+=" $*"
}

# ---- sourcing one ebuild ----

# Word-split and re-join a value: runs of blanks become one space, no leading/trailing space.
__ouzo_norm() {
	local IFS=$' \t\n'
	set -f
	local -a words=($1)
	set +f
	IFS=' '
	__ouzo_value="${words[*]}"
}

__ouzo_phases() {
	# Every phase function, ordered by its short name (DEFINED_PHASES is sorted that way).
	local p valid out=
	for p in src_compile pkg_config src_configure pkg_info src_install pkg_nofetch pkg_postinst pkg_postrm pkg_preinst src_prepare pkg_pretend pkg_prerm pkg_setup src_test src_unpack; do
		valid=1
		case ${p}:${EAPI} in
			src_configure:[01] | src_prepare:[01]) valid= ;;
			pkg_pretend:[0123]) valid= ;;
		esac
		[[ -n ${valid} ]] && declare -F "${p}" >/dev/null && out+=" ${p#*_}"
	done
	__ouzo_value=${out# }
	[[ -n ${__ouzo_value} ]] || __ouzo_value=-
}

# Source $EBUILD with its eclasses and compute the final metadata variables (__OUZO_M_*). The
# phase driver runs the three steps itself at top level, so that the ebuild's `declare`s are
# global there.
__ouzo_source_ebuild() {
	__ouzo_begin_source
	source "${EBUILD}" || die "error sourcing ebuild"
	__ouzo_end_source
}

__ouzo_begin_source() {
	__OUZO_HEAD_EAPI=${EAPI:-0}
	unset EAPI DEPEND RDEPEND PDEPEND BDEPEND IDEPEND INHERITED IUSE REQUIRED_USE PROPERTIES RESTRICT
	__OUZO_ACC_IUSE= __OUZO_ACC_REQUIRED_USE= __OUZO_ACC_DEPEND= __OUZO_ACC_RDEPEND= __OUZO_ACC_PDEPEND=
	__OUZO_ACC_BDEPEND= __OUZO_ACC_IDEPEND= __OUZO_ACC_PROPERTIES= __OUZO_ACC_RESTRICT= __OUZO_ECLASS_FILES=
	declare -gA __OUZO_INHERITED=()
	[[ ${__OUZO_HEAD_EAPI} == 8 ]] && __OUZO_ACC_PR=1 || __OUZO_ACC_PR=
	# An eval'ed string of shell words is how PORTAGE_ECLASS_LOCATIONS is quoted.
	eval "__OUZO_LOCATIONS=(${PORTAGE_ECLASS_LOCATIONS})"
	export EAPI=${__OUZO_HEAD_EAPI}
}

__ouzo_end_source() {
	[[ -n ${EAPI+x} ]] || EAPI=0
	case ${EAPI} in 0 | 1 | 2 | 3) [[ -n ${RDEPEND+x} ]] || RDEPEND=${DEPEND} ;; esac
	case ${EAPI} in 0 | 1 | 2 | 3 | 4 | 5 | 6) unset BDEPEND ;; esac
	[[ ${EAPI} == 8 ]] || unset IDEPEND
	local v
	for v in IUSE REQUIRED_USE DEPEND RDEPEND PDEPEND BDEPEND IDEPEND; do
		local acc=__OUZO_ACC_${v}
		printf -v "__OUZO_M_${v}" '%s %s' "${!v}" "${!acc}"
	done
	__OUZO_M_PROPERTIES="${PROPERTIES} ${__OUZO_ACC_PROPERTIES}"
	__OUZO_M_RESTRICT="${RESTRICT} ${__OUZO_ACC_RESTRICT}"
	case ${EAPI} in 0 | 1 | 2 | 3 | 4 | 5 | 6) __OUZO_M_BDEPEND= ;; esac
	[[ ${EAPI} == 8 ]] || __OUZO_M_IDEPEND=
	__OUZO_M_PY_COMPAT="${PYTHON_COMPAT[*]}"
}

# Names in the order of Portage's 22 depend lines.
__OUZO_KEYS22=(DEPEND RDEPEND SLOT SRC_URI RESTRICT HOMEPAGE LICENSE DESCRIPTION KEYWORDS INHERITED IUSE REQUIRED_USE PDEPEND BDEPEND EAPI PROPERTIES DEFINED_PHASES UNUSED_05 _PY_COMPAT UNUSED_03 UNUSED_02 UNUSED_01)

__ouzo_value_of() {
	case $1 in
		DEPEND | RDEPEND | PDEPEND | BDEPEND | IDEPEND | IUSE | REQUIRED_USE | PROPERTIES | RESTRICT)
			local m=__OUZO_M_$1
			__ouzo_norm "${!m}"
			;;
		DEFINED_PHASES) __ouzo_phases ;;
		_PY_COMPAT) __ouzo_norm "${__OUZO_M_PY_COMPAT}" ;;
		UNUSED_*) __ouzo_value= ;;
		*) __ouzo_norm "${!1}" ;;
	esac
}

# Portage mode: the 22 positional lines on fd $1, each value normalised here.
__ouzo_emit22() {
	local fd=$1 k out=
	for k in "${__OUZO_KEYS22[@]}"; do
		__ouzo_value_of "${k}"
		out+="${__ouzo_value}"$'\n'
	done
	printf '%s' "${out}" >&"${fd}"
}

# Worker mode: raw KEY=value records, each ended by NUL (bash values cannot hold one), then the
# `declare -F` list of defined functions and a NUL; ouzo normalises the values and picks
# DEFINED_PHASES itself. The worker then writes NUL "END <id> <status>" newline.
__ouzo_emit_raw() {
	printf '%s\0' \
		"DEPEND=${__OUZO_M_DEPEND}" "RDEPEND=${__OUZO_M_RDEPEND}" "SLOT=${SLOT}" "SRC_URI=${SRC_URI}" \
		"RESTRICT=${__OUZO_M_RESTRICT}" "HOMEPAGE=${HOMEPAGE}" "LICENSE=${LICENSE}" "DESCRIPTION=${DESCRIPTION}" \
		"KEYWORDS=${KEYWORDS}" "INHERITED=${INHERITED}" "IUSE=${__OUZO_M_IUSE}" "REQUIRED_USE=${__OUZO_M_REQUIRED_USE}" \
		"PDEPEND=${__OUZO_M_PDEPEND}" "BDEPEND=${__OUZO_M_BDEPEND}" "IDEPEND=${__OUZO_M_IDEPEND}" "EAPI=${EAPI}" \
		"PROPERTIES=${__OUZO_M_PROPERTIES}" "_PY_COMPAT=${__OUZO_M_PY_COMPAT}" "ECLASS_FILES=${__OUZO_ECLASS_FILES}" >&3
	declare -F >&3
	printf '\0' >&3
}

__ouzo_set_names() {
	# CATEGORY and PF come from the caller; the rest is derived (PMS 11.1).
	PF=${PF:-${P}}
	PR=r0
	if [[ ${PF} =~ -r([0-9]+)$ ]]; then PR=r${BASH_REMATCH[1]}; P=${PF%-r*}; else P=${PF}; fi
	PN=${PN:-${P%-*}}
	PV=${P#"${PN}"-}
	if [[ ${PR} == r0 && ${PF} != *-r0 ]]; then PVR=${PV}; else PVR=${PV}-${PR}; fi
	FILESDIR=${EBUILD%/*}/files
	export CATEGORY PF P PN PV PR PVR FILESDIR
}

__ouzo_worker() {
	# Requests, one per line: id<TAB>ebuild<TAB>category<TAB>PN<TAB>PF<TAB>head EAPI<TAB>eclass locations<TAB>error file
	local id ebuild cat pn pf eapi locs errfile
	while IFS=$'\t' read -r id ebuild cat pn pf eapi locs errfile; do
		(
			EBUILD=${ebuild} CATEGORY=${cat} PN=${pn} PF=${pf} EAPI=${eapi} PORTAGE_ECLASS_LOCATIONS=${locs}
			EBUILD_PHASE=depend
			export EBUILD CATEGORY EBUILD_PHASE
			__ouzo_set_names
			__ouzo_source_ebuild
			printf 'BEGIN %s\n' "${id}" >&3
			__ouzo_emit_raw
		) </dev/null >"${errfile}" 2>&1
		printf '\0END %s %s\n' "${id}" "$?" >&3
	done
}

# Library mode: phase.sh sources this file for the functions above and runs phases itself.
if [[ -n ${__OUZO_LIB_ONLY} ]]; then
	return 0
fi

if [[ $1 == --worker ]]; then
	__ouzo_worker
	exit 0
fi

# Portage-compatible single run.
[[ ${EBUILD_PHASE} == depend ]] || die "ouzo's ebuild.sh only runs the depend phase (EBUILD_PHASE=${EBUILD_PHASE})"
[[ -n ${PORTAGE_PIPE_FD} ]] || die "PORTAGE_PIPE_FD is not set"
__ouzo_set_names
__ouzo_source_ebuild
__ouzo_emit22 "${PORTAGE_PIPE_FD}"
