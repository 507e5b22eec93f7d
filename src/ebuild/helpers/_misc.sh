# shellcheck shell=bash
# domo, the helpers of spec §3.10, emake, nonfatal and the prep* extensions of §3.16, loaded by
# __ouzo_helper_main (helpers/_lib.sh).

# domo file.mo… → <base>/share/locale/<name>/LC_MESSAGES/${MOPREFIX}.mo
__ouzo_cmd_domo() {
	___eapi_banned_domo && __ouzo_banned_helper
	__ouzo_image_init || return
	(($#)) || {
		__ouzo_no_args
		return
	}
	local base=/usr x name
	___eapi_domo_uses_desttree && base=${__DESTTREE}
	__fail=
	for x in "$@"; do
		if [[ ! -e ${x} ]]; then
			__ouzo_missing "${x}"
			__fail=1
			continue
		fi
		name=${x##*/}
		__ouzo_image_path "${base}/share/locale/${name%.*}/LC_MESSAGES"
		install -D -m0644 -- "${x}" "${__p}/${MOPREFIX:-${PN}}.mo" || __fail=1
	done
	__ouzo_done
}

# ---- directories, symlinks, ownership (spec §3.10) ----

__ouzo_cmd_dodir() {
	__ouzo_image_init || return
	(($#)) || {
		__ouzo_no_args
		return
	}
	local -a dirs=()
	local x
	for x in "$@"; do
		__ouzo_image_path "${x}"
		dirs+=("${__p}")
	done
	install -d ${DIROPTIONS:--m0755} -- "${dirs[@]}" || __helpers_die "${__OUZO_HELPER} failed"
}

__ouzo_cmd_keepdir() {
	__ouzo_cmd_dodir "$@" || return
	local x slot=${SLOT%/*}
	__fail=
	for x in "$@"; do
		__ouzo_image_path "${x}"
		if ! : >"${__p}/.keep_${CATEGORY}_${PN}-${slot:-0}"; then
			__fail=1
		fi
	done
	__ouzo_done
}

# Canonical form of an absolute path without touching the filesystem: the components, in
# __canon (no empty or "." parts; ".." removes the one before, and stays at the root).
__ouzo_canon() {
	local IFS=/ c
	local -a parts
	read -r -a parts <<<"$1"
	__canon=()
	for c in "${parts[@]}"; do
		case ${c} in
			'' | .) ;;
			..) ((${#__canon[@]})) && unset '__canon[-1]' ;;
			*) __canon+=("${c}") ;;
		esac
	done
}

# dosym -r: the target relative to the link's directory, lexically (like realpath -m -s
# --relative-to): strip the common leading components, one "../" per remaining directory part.
__ouzo_relative() {
	local target=$1 linkdir=$2 i n
	local -a t d
	__ouzo_canon "${target}"
	t=("${__canon[@]}")
	__ouzo_canon "${linkdir}"
	d=("${__canon[@]}")
	for ((n = 0; n < ${#t[@]} && n < ${#d[@]}; n++)); do
		[[ ${t[n]} == "${d[n]}" ]] || break
	done
	__rel=
	for ((i = n; i < ${#d[@]}; i++)); do __rel+=../; done
	local IFS=/
	__rel+="${t[*]:n}"
	__rel=${__rel%/}
	[[ -n ${__rel} ]] || __rel=.
}

__ouzo_cmd_dosym() {
	__ouzo_image_init || return
	local relative=
	if [[ $1 == -r ]] && ___eapi_has_dosym_r; then
		relative=1
		shift
	fi
	if (($# != 2)); then
		__helpers_die "dosym: exactly two arguments needed (target and link), got $#"
		return
	fi
	local target=$1 link=$2
	__ouzo_image_path "${link}"
	local path=${__p}
	if [[ ${link} == */ || (-d ${path} && ! -L ${path}) ]]; then
		__helpers_die "dosym: dosym target omits basename: '${link}'"
		return
	fi
	if [[ -n ${relative} ]]; then
		if [[ ${target} != /* ]]; then
			__helpers_die "dosym: -r needs an absolute target, got '${target}'"
			return
		fi
		local dir=/${link}
		__ouzo_relative "${target}" "${dir%/*}"
		target=${__rel}
	fi
	local -a __dopts=(${DIROPTIONS:--m0755})
	__ouzo_mkdir "${path%/*}" || {
		__helpers_die "dosym: cannot create the directory of ${link}"
		return
	}
	ln -snf -- "${target}" "${path}" || __helpers_die "dosym failed"
}

# fperms [options] mode path…: chmod inside ED. Options are chmod's (-R -c -f -v, --long); the first
# other argument is the mode, so -x or -w are modes.
__ouzo_cmd_fperms() {
	__ouzo_image_init || return
	local -a opts=() paths=()
	while [[ $1 == -+([cfvR]) || $1 == --* ]]; do
		if [[ $1 == -- ]]; then
			shift
			break
		fi
		opts+=("$1")
		shift
	done
	local mode=$1
	shift || true
	if [[ -z ${mode} || $# -eq 0 ]]; then
		__helpers_die "fperms: a mode and at least one path needed"
		return
	fi
	local x
	for x in "$@"; do
		__ouzo_image_path "${x}"
		paths+=("${__p}")
	done
	chmod "${opts[@]}" -- "${mode}" "${paths[@]}" || __helpers_die "fperms failed"
}

# One line of a passwd/group file by name: sets __id (third field) and __gid (fourth).
__ouzo_id_lookup() {
	local file=$1 want=$2 name x id gid
	while IFS=: read -r name x id gid x; do
		if [[ ${name} == "${want}" ]]; then
			__id=${id} __gid=${gid}
			return 0
		fi
	done <"${file}"
	return 1
}

# fowners [options] owner path…: chown inside ED. User and group names are resolved against the
# target's passwd/group (spec §3.10), the host's only when the target has none.
__ouzo_cmd_fowners() {
	__ouzo_image_init || return
	local -a opts=() paths=()
	while [[ $1 == -?* ]]; do
		if [[ $1 == -- ]]; then
			shift
			break
		fi
		opts+=("$1")
		shift
	done
	local spec=$1
	shift || true
	if [[ -z ${spec} || $# -eq 0 ]]; then
		__helpers_die "fowners: an owner and at least one path needed"
		return
	fi
	local root
	if ___eapi_has_SYSROOT && [[ ${EBUILD_PHASE} == install ]]; then
		root=${ESYSROOT%/}
	elif ___eapi_has_prefix_vars; then
		root=${EROOT%/}
	else
		root=${ROOT%/}
	fi
	local user=${spec} group= sep=
	if [[ ${spec} == *:* ]]; then
		user=${spec%%:*} group=${spec#*:} sep=:
	elif [[ ${spec} == *.* && -f ${root}/etc/passwd ]] && ! __ouzo_id_lookup "${root}/etc/passwd" "${spec}"; then
		user=${spec%%.*} group=${spec#*.} sep=:
	fi
	local owner= __id __gid pgid=
	if [[ -n ${user} ]]; then
		if [[ ${user} == +([0-9]) || ! -f ${root}/etc/passwd ]]; then
			owner=${user}
		elif __ouzo_id_lookup "${root}/etc/passwd" "${user}"; then
			owner=${__id} pgid=${__gid}
		else
			__helpers_die "fowners: unknown user '${user}' (looked up in ${root}/etc/passwd)"
			return
		fi
	fi
	if [[ -n ${sep} ]]; then
		if [[ -z ${group} ]]; then
			# user: → the user's primary group (chown itself does that for names it resolves)
			[[ -n ${pgid} ]] && group=${pgid}
			owner+=:${group}
		elif [[ ${group} == +([0-9]) || ! -f ${root}/etc/group ]]; then
			owner+=:${group}
		elif __ouzo_id_lookup "${root}/etc/group" "${group}"; then
			owner+=:${__id}
		else
			__helpers_die "fowners: unknown group '${group}' (looked up in ${root}/etc/group)"
			return
		fi
	fi
	local x
	for x in "$@"; do
		__ouzo_image_path "${x}"
		paths+=("${__p}")
	done
	chown "${opts[@]}" -- "${owner}" "${paths[@]}" || __helpers_die "fowners failed"
}

# ---- emake, nonfatal ----

__ouzo_cmd_emake() {
	local -
	set -f
	local -a cmd=(${MAKE:-make})
	[[ -z ${MAKEFLAGS} ]] && cmd+=(${MAKEOPTS})
	cmd+=("$@" ${EXTRA_EMAKE})
	[[ ${PORTAGE_QUIET} == 1 ]] || __ouzo_show_cmd "${cmd[@]}" >&2
	"${cmd[@]}" && return 0
	__helpers_die "emake failed"
}

__ouzo_cmd_nonfatal() {
	___eapi_has_nonfatal || __ouzo_fatal "nonfatal: not available in EAPI ${EAPI}"
	(($#)) || __ouzo_fatal "nonfatal: a command is needed"
	export PORTAGE_NONFATAL=1
	exec "$@"
}

# ---- Portage extensions (spec §3.16), EAPI ≤6 ----

# prepstrip [path…]: strip the ELF files and static archives under the given image paths now.
__ouzo_cmd_prepstrip() {
	___eapi_banned_prepstrip && __ouzo_banned_helper "use dostrip"
	__ouzo_image_init || return
	local -a feats=(${FEATURES}) restr=(${RESTRICT})
	local x
	for x in "${feats[@]}"; do [[ ${x} == nostrip ]] && return 0; done
	for x in "${restr[@]}"; do [[ ${x} == strip ]] && return 0; done
	local strip=strip ranlib=ranlib
	if [[ -n ${CHOST} ]]; then
		type -P "${CHOST}-strip" >/dev/null && strip=${CHOST}-strip
		type -P "${CHOST}-ranlib" >/dev/null && ranlib=${CHOST}-ranlib
	fi
	local default_flags="--strip-unneeded -N __gentoo_check_ldflags__ -R .comment -R .GCC.command.line -R .note.gnu.gold-version"
	local -a flags=(${PORTAGE_STRIP_FLAGS-${default_flags}})
	local -a roots=()
	(($#)) || set -- /
	for x in "$@"; do
		if [[ ${x} == "${__D}"/* || ${x} == "${__D}" ]]; then
			while [[ ${x} == *//* ]]; do x=${x//\/\//\/}; done
			roots+=("${x%/}")
		else
			__ouzo_image_path "${x}"
			roots+=("${__p}")
		fi
	done
	local f rel magic g
	local -a masks
	set -f
	masks=(${STRIP_MASK})
	set +f
	__fail=
	while IFS= read -r -d '' f; do
		rel=/${f#"${__ED}"/}
		for g in "${masks[@]}"; do
			# shellcheck disable=SC2053
			[[ ${rel} == ${g} ]] && continue 2
		done
		LC_ALL=C read -r -N 8 magic <"${f}" 2>/dev/null
		if [[ ${magic} == $'\x7fELF'* ]]; then
			echo "   ${rel}" >&2
			case ${f} in
				*.o | *.ko) "${strip}" --strip-unneeded -N __gentoo_check_ldflags__ "${f}" || __fail=1 ;;
				*) "${strip}" "${flags[@]}" "${f}" || __fail=1 ;;
			esac
		elif [[ ${f} == *.a && ${magic} == '!<arch>'* ]]; then
			echo "   ${rel}" >&2
			{ "${strip}" -g "${f}" && "${ranlib}" "${f}"; } || __fail=1
		fi
	done < <(find "${roots[@]}" -type f -print0 2>/dev/null)
	__ouzo_done
}

# prepinfo [dir]: drop the info "dir" index files (the system makes its own), unless the directory
# holds a .keepinfodir* file.
__ouzo_cmd_prepinfo() {
	___eapi_banned_prepinfo && __ouzo_banned_helper
	__ouzo_image_init || return
	local infodir
	if [[ -z $1 ]]; then
		__ouzo_image_path /usr/share/info
	else
		__ouzo_image_path "$1/share/info"
		[[ -d ${__p} ]] || __ouzo_image_path "$1/info"
	fi
	infodir=${__p}
	[[ -d ${infodir} ]] || return 0
	local -a keep
	shopt -s nullglob
	keep=("${infodir}"/.keepinfodir*)
	shopt -u nullglob
	((${#keep[@]})) && return 0
	local f s
	for f in dir dir.info; do
		for s in '' .gz .bz2 .xz .Z .lzma .lz .zst; do
			[[ -e ${infodir}/${f}${s} ]] && { rm -f -- "${infodir}/${f}${s}" || __fail=1; }
		done
	done
	__ouzo_done
}

__ouzo_cmd_prepman() {
	___eapi_banned_prepman && __ouzo_banned_helper
	return 0
}
