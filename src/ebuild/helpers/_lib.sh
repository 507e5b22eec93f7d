# shellcheck shell=bash
# Shared by phase.sh (the master shell of a phase) and by every external helper of this directory.
# In the master it only defines the failure protocol (docs/BUILD-CONTRACT.md, spec §1.7, §3.0);
# an external helper then calls __ouzo_helper_main, which loads its implementation (_install.sh,
# _dohtml.sh or _misc.sh).

declare -F ___eapi_helpers_can_die >/dev/null || source "${BASH_SOURCE[0]%/*}/../eapi.sh"

# Fail the phase: record the reason for the master, make the master stop (it traps TERM) when we are
# not the master itself (a subshell, or an external helper), and exit.
__ouzo_fatal() {
	local msg="$*"
	msg=${msg//$'\n'/ }
	if [[ -n ${T} && -d ${T} ]]; then
		printf '%s\n' "${msg:-(no error message)}" >>"${T}/.ouzo_die"
	fi
	if [[ -n ${EBUILD_MASTER_PID} && (-n ${__OUZO_HELPER} || ${BASHPID} != "${EBUILD_MASTER_PID}") ]]; then
		kill -TERM "${EBUILD_MASTER_PID}" 2>/dev/null
	fi
	exit 1
}

# "EAPI-dependent failure": return 1 with the message on stderr where helpers cannot die (EAPI ≤3)
# or under nonfatal; otherwise fail the phase.
__helpers_die() {
	if ___eapi_helpers_can_die && [[ ${PORTAGE_NONFATAL} != 1 ]]; then
		__ouzo_fatal "$@"
	fi
	echo "$*" >&2
	return 1
}

# A command line as text, quoting the arguments that need it (econf, emake, edo echo theirs).
__ouzo_show_cmd() {
	# the replacement is a variable: quote removal in ${x//p/r} differs with BASH_COMPAT ≤ 4.2
	local a out= sq="'" esc="'\\''"
	for a in "$@"; do
		if [[ -z ${a} || ${a} == *[!A-Za-z0-9_@%+=:,./-]* ]]; then
			out+="'${a//${sq}/${esc}}' "
		else
			out+="${a} "
		fi
	done
	echo "${out% }"
}

# ---- from here on: only external helpers use these ----

# Entry point of every external helper: `__ouzo_helper_main <name> args…` runs __ouzo_cmd_<name>
# (dots in the name become underscores) and exits with its status.
__ouzo_helper_main() {
	__OUZO_HELPER=$1
	shift
	shopt -s extglob
	local part
	case ${__OUZO_HELPER} in
		dohtml) part=_dohtml.sh ;;
		domo | dodir | keepdir | dosym | fperms | fowners | emake | nonfatal | prep*) part=_misc.sh ;;
		*) part=_install.sh ;;
	esac
	source "${BASH_SOURCE[0]%/*}/${part}" || __ouzo_fatal "${__OUZO_HELPER}: cannot load helpers/${part}"
	"__ouzo_cmd_${__OUZO_HELPER//./_}" "$@"
	exit
}

# The image paths every install helper needs (spec §2.2: D/ED may end in a slash; EAPI ≤2 has no
# ED). Sets __D, __ED (no trailing slash) and the destination trees of §3.8. Fails when there is no
# image (a helper called outside src_install/pkg_preinst must never write to the live root).
__ouzo_image_init() {
	__D=${D%/}
	if ___eapi_has_prefix_vars; then
		__ED=${ED:-${__D}${EPREFIX}}
		__ED=${__ED%/}
	else
		__ED=${__D}
	fi
	if [[ -z ${__D} || -z ${__ED} ]]; then
		__helpers_die "${__OUZO_HELPER}: D is not set (install helpers only work in src_install and pkg_preinst)"
		return 1
	fi
	if ___eapi_has_DESTTREE_vars; then
		__DESTTREE=${DESTTREE-${__E_DESTTREE-/usr}}
		__INSDESTTREE=${INSDESTTREE-${__E_INSDESTTREE-}}
	else
		if [[ -n ${DESTTREE+x} || -n ${INSDESTTREE+x} ]]; then
			__helpers_die "${__OUZO_HELPER}: DESTTREE and INSDESTTREE are banned in EAPI ${EAPI}; use into and insinto"
			return 1
		fi
		__DESTTREE=${__E_DESTTREE-/usr}
		__INSDESTTREE=${__E_INSDESTTREE-}
	fi
	__EXEDESTTREE=${__E_EXEDESTTREE-}
	__DOCDESTTREE=${__E_DOCDESTTREE-}
}

# Image path of a destination given relative to ED: sets __p ("${__ED}/dir", single slashes, no
# trailing slash).
__ouzo_image_path() {
	local rel=$1
	while [[ ${rel} == *//* ]]; do rel=${rel//\/\//\/}; done
	rel=${rel#/}
	rel=${rel%/}
	__p=${__ED}${rel:+/${rel}}
}

# Create an image directory with the __dopts install(1) options unless it exists (no fork then).
__ouzo_mkdir() {
	[[ -d $1 ]] && return 0
	install -d "${__dopts[@]}" -- "$1"
}

# The end of every helper: status 0, or the EAPI-dependent failure.
__ouzo_done() {
	[[ -z ${__fail} ]] && return 0
	__helpers_die "${__OUZO_HELPER} failed"
}

__ouzo_no_args() {
	__helpers_die "${__OUZO_HELPER}: at least one argument needed"
}

# The message the build-log check of spec §4.3 looks for.
__ouzo_missing() {
	echo "!!! ${__OUZO_HELPER}: $1 does not exist" >&2
}

# A QA notice from an external helper: on stderr, and in the elog log like eqawarn's.
__ouzo_qa() {
	echo " * QA Notice: $*" >&2
	if [[ -n ${T} && -d ${T} ]]; then
		[[ -d ${T}/logging ]] || mkdir -p "${T}/logging" 2>/dev/null
		printf 'QA QA Notice: %s\n' "$*" >>"${T}/logging/${EBUILD_PHASE:-other}" 2>/dev/null
	fi
}

# A banned command dies whatever nonfatal says (spec §3.0).
__ouzo_banned_helper() {
	echo "!!! ${__OUZO_HELPER}: banned in EAPI ${EAPI}${1:+ ($1)}" >&2
	__ouzo_fatal "${__OUZO_HELPER}: banned in EAPI ${EAPI}${1:+ ($1)}"
}
