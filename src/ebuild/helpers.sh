# shellcheck shell=bash
# ouzo's phase helpers that must be shell functions (spec §3.0): USE queries, destination state,
# docompress/dostrip lists, econf/einstall/einstalldocs, eapply/eapply_user, unpack, get_libdir,
# nonfatal, sandbox lists, hooks, and the stubs of banned commands. The install helpers are external
# commands in helpers/ (they read the state exported here).
#
# Sourced by phase.sh after ebuild.sh (library mode: has, ver_*, inherit) and eapi.sh; die and the
# output functions (einfo … eqawarn, ebegin/eend) come from phase.sh. EAPI is known when this file
# is sourced: commands an EAPI lacks are not defined at all (eclasses define back-ports under those
# names), banned ones are defined as stubs that die. Internal names start with __ouzo_.

# ---- failures and banned commands ----

__ouzo_banned() {
	die "'$1' is banned in EAPI ${EAPI}${2:+: $2}"
}

# Failure of econf/einstall: they die in every EAPI, but honour nonfatal where it exists.
__ouzo_fail_or_die() {
	if ___eapi_has_nonfatal && [[ ${PORTAGE_NONFATAL} == 1 ]]; then
		echo "$*" >&2
		return 1
	fi
	die "$@"
}

# The image directory for shell functions (no trailing slash; EAPI ≤2 has no ED).
__ouzo_ed() {
	if ___eapi_has_prefix_vars; then
		__ed=${ED:-${D%/}${EPREFIX}}
	else
		__ed=${D}
	fi
	__ed=${__ed%/}
}

# ---- USE queries (spec §3.2) ----

__ouzo_not_in_iuse() {
	if ___eapi_use_enforces_iuse && [[ ${MERGE_TYPE} != binary ]]; then
		die "USE flag '$1' not in IUSE for ${CATEGORY}/${PF}"
	fi
	eqawarn "QA Notice: USE flag '$1' not in IUSE for ${CATEGORY}/${PF}"
}

use() {
	local u=$1 invert=
	if [[ ${u} == !* ]]; then
		invert=1
		u=${u:1}
	fi
	if [[ -n ${IUSE_EFFECTIVE+set} && " ${IUSE_EFFECTIVE} " != *" ${u} "* ]]; then
		__ouzo_not_in_iuse "${u}"
	fi
	if [[ " ${USE} " == *" ${u} "* ]]; then
		[[ -z ${invert} ]]
	else
		[[ -n ${invert} ]]
	fi
}

usev() {
	local word=${1#!}
	if (($# >= 2)) && ___eapi_usev_has_word; then
		word=$2
	fi
	use "$1" || return 1
	echo "${word}"
}

useq() {
	___eapi_banned_useq && __ouzo_banned useq "use 'use'"
	eqawarn "QA Notice: useq is deprecated; use 'use'"
	use "$@"
}

# ebuild.sh defines hasv/hasq for every EAPI; these versions add the ban of EAPI 8.
hasv() {
	___eapi_banned_hasv && __ouzo_banned hasv "use 'has' and echo"
	has "$@" && echo "$1"
}

hasq() {
	___eapi_banned_hasq && __ouzo_banned hasq "use 'has'"
	has "$@"
}

if ___eapi_has_usex; then
	usex() {
		if use "$1"; then
			echo "${2-yes}$4"
		else
			echo "${3-no}$5"
		fi
		return 0
	}
fi

# use_with/use_enable: `--<yes>-opt[=value]` or `--<no>-opt`.
__ouzo_use_option() {
	local yes=$1 no=$2
	shift 2
	if (($# == 0)); then
		echo "${FUNCNAME[1]}: a USE flag is needed" >&2
		return 1
	fi
	local opt=${2:-${1#!}} value=
	if (($# >= 3)) && { [[ -n $3 ]] || ___eapi_use_with_empty_third_arg; }; then
		value="=$3"
	fi
	if use "$1"; then
		echo "--${yes}-${opt}${value}"
	else
		echo "--${no}-${opt}"
	fi
	return 0
}

use_with() { __ouzo_use_option with without "$@"; }
use_enable() { __ouzo_use_option enable disable "$@"; }

if ___eapi_has_in_iuse; then
	in_iuse() {
		(($# == 1)) || die "in_iuse: exactly one USE flag needed"
		[[ " ${IUSE_EFFECTIVE} " == *" $1 "* ]]
	}
fi

# ---- destination state (spec §3.8) ----

# Create a destination directory in the image when there is one (into, insinto, exeinto, docinto).
__ouzo_dest_dir() {
	[[ -n $1 && -n ${D} ]] || return 0
	local __ed
	__ouzo_ed
	# no image yet (a setter called before src_install): nothing to create
	[[ -d ${__ed} ]] || return 0
	[[ -d ${__ed}/${1#/} ]] || install -d "${__ed}/${1#/}" || die "cannot create ${__ed}/${1#/}"
}

into() {
	(($# == 1)) || die "into: exactly one directory needed"
	if [[ $1 == / ]]; then __E_DESTTREE=; else __E_DESTTREE=$1; fi
	export __E_DESTTREE
	___eapi_has_DESTTREE_vars && export DESTTREE=${__E_DESTTREE}
	__ouzo_dest_dir "${__E_DESTTREE}"
}

insinto() {
	(($# == 1)) || die "insinto: exactly one directory needed"
	if [[ $1 == / ]]; then __E_INSDESTTREE=; else __E_INSDESTTREE=$1; fi
	export __E_INSDESTTREE
	___eapi_has_DESTTREE_vars && export INSDESTTREE=${__E_INSDESTTREE}
	__ouzo_dest_dir "${__E_INSDESTTREE}"
}

exeinto() {
	(($# == 1)) || die "exeinto: exactly one directory needed"
	if [[ $1 == / ]]; then __E_EXEDESTTREE=; else __E_EXEDESTTREE=$1; fi
	export __E_EXEDESTTREE
	__ouzo_dest_dir "${__E_EXEDESTTREE}"
}

docinto() {
	(($# == 1)) || die "docinto: exactly one directory needed"
	if [[ $1 == / ]]; then
		__E_DOCDESTTREE=
	else
		__E_DOCDESTTREE=$1
		__ouzo_dest_dir "/usr/share/doc/${PF}/${__E_DOCDESTTREE#/}"
	fi
	export __E_DOCDESTTREE
}

__ouzo_no_strip_opt() {
	local o
	for o in "${@:2}"; do
		[[ ${o} == -s || ${o} == --strip ]] && die "$1: -s is not allowed (stripping is done by the package manager)"
	done
	return 0
}

insopts() {
	__ouzo_no_strip_opt insopts "$@"
	export INSOPTIONS="$*"
}

exeopts() {
	__ouzo_no_strip_opt exeopts "$@"
	export EXEOPTIONS="$*"
}

libopts() {
	___eapi_banned_libopts && __ouzo_banned libopts
	__ouzo_no_strip_opt libopts "$@"
	export LIBOPTIONS="$*"
}

diropts() {
	export DIROPTIONS="$*"
}

# The state at the start of src_install (phase.sh calls this): into /usr, insinto /, exeinto /,
# docinto /, default modes. Creates nothing.
__ouzo_reset_dest() {
	export __E_DESTTREE=/usr __E_INSDESTTREE= __E_EXEDESTTREE= __E_DOCDESTTREE=
	export INSOPTIONS=-m0644 EXEOPTIONS=-m0755 LIBOPTIONS=-m0644 DIROPTIONS=-m0755
	export MOPREFIX=${MOPREFIX:-${PN}}
	if ___eapi_has_DESTTREE_vars; then
		export DESTTREE=/usr INSDESTTREE=
	else
		unset DESTTREE INSDESTTREE
	fi
}

# ---- docompress / dostrip (spec §3.11) ----

# Add a path to a newline-separated list variable, normalised (single slashes, a leading one, no
# trailing one), once.
__ouzo_list_add() {
	local var=$1 p=$2
	while [[ ${p} == *//* ]]; do p=${p//\/\//\/}; done
	p=/${p#/}
	[[ ${p} != / ]] && p=${p%/}
	local cur=${!var}
	[[ $'\n'${cur}$'\n' == *$'\n'"${p}"$'\n'* ]] && return 0
	printf -v "${var}" '%s' "${cur:+${cur}$'\n'}${p}"
	export "${var?}"
}

# docompress/dostrip [-x] path…
__ouzo_list_cmd() {
	local name=$1 var=$2
	shift 2
	[[ ${EBUILD_PHASE} == install ]] || die "${name}: only allowed in src_install"
	if [[ $1 == -x ]]; then
		var+=_SKIP
		shift
	fi
	(($#)) || die "${name}: at least one path needed"
	local p
	for p in "$@"; do __ouzo_list_add "${var}" "${p}"; done
}

if ___eapi_has_docompress; then
	docompress() { __ouzo_list_cmd docompress PORTAGE_DOCOMPRESS "$@"; }
fi
if ___eapi_has_dostrip; then
	dostrip() { __ouzo_list_cmd dostrip PORTAGE_DOSTRIP "$@"; }
fi

# The initial lists (phase.sh calls this at the start of src_install). EAPI ≤3 (no docompress)
# still compresses doc/info/man; EAPI ≤6 (no dostrip) strips everything minus STRIP_MASK.
__ouzo_init_lists() {
	export PORTAGE_DOCOMPRESS=$'/usr/share/doc\n/usr/share/info\n/usr/share/man' PORTAGE_DOCOMPRESS_SKIP=
	___eapi_has_docompress && PORTAGE_DOCOMPRESS_SKIP=/usr/share/doc/${PF}/html
	export PORTAGE_DOSTRIP=/ PORTAGE_DOSTRIP_SKIP=
	local -
	set -f
	has strip ${RESTRICT} ${PORTAGE_RESTRICT} && PORTAGE_DOSTRIP=
	return 0
}

# ---- econf, einstall (spec §3.6) ----

# Does configure --help (in __help) mention option $1? --with-/--enable-/--disable- names must end
# there (not continue with a name character).
__ouzo_help_has() {
	case $1 in
		--with-* | --enable-* | --disable-*)
			local re="$1([^A-Za-z0-9+_.-]|\$)"
			[[ ${__help} =~ ${re} ]]
			;;
		*) [[ ${__help} == *"$1"* ]] ;;
	esac
}

__ouzo_squeeze_slashes() {
	__s=$1
	while [[ ${__s} == *//* ]]; do __s=${__s//\/\//\/}; done
}

econf() {
	local cfg=${ECONF_SOURCE:-.}/configure
	if ___eapi_has_src_configure; then
		[[ ${EBUILD_PHASE} == configure ]] || eqawarn "QA Notice: econf called in ${EBUILD_PHASE_FUNC:-${EBUILD_PHASE}} instead of src_configure"
	else
		[[ ${EBUILD_PHASE} == compile ]] || eqawarn "QA Notice: econf called in ${EBUILD_PHASE_FUNC:-${EBUILD_PHASE}} instead of src_compile"
	fi
	if [[ ! -e ${cfg} ]]; then
		__ouzo_fail_or_die "econf: no configure script found (${cfg})"
		return
	fi
	if [[ ! -x ${cfg} ]]; then
		__ouzo_fail_or_die "econf: ${cfg} is not executable"
		return
	fi

	# CONFIG_SHELL replaces a /bin/sh interpreter (mtime and mode kept).
	if [[ -n ${CONFIG_SHELL} ]]; then
		local first=
		IFS= read -r first <"${cfg}"
		if [[ ${first} == '#!/bin/sh'* ]]; then
			local tmp=${cfg}.ouzo.$$
			{ { printf '#!%s\n' "${CONFIG_SHELL}" && tail -n +2 -- "${cfg}"; } >"${tmp}" &&
				chmod --reference="${cfg}" -- "${tmp}" && touch -r "${cfg}" -- "${tmp}" &&
				mv -f -- "${tmp}" "${cfg}"; } || die "econf: cannot set CONFIG_SHELL in ${cfg}"
		fi
	fi

	# Fresh config.guess/config.sub everywhere under WORKDIR.
	local gnuconfig=${EPREFIX%/}/usr/share/gnuconfig
	if [[ -d ${gnuconfig} && -d ${WORKDIR} ]]; then
		local f
		while IFS= read -r -d '' f; do
			[[ -f ${gnuconfig}/${f##*/} ]] || continue
			einfo "econf: updating ${f#"${WORKDIR}"/} with ${gnuconfig}/${f##*/}"
			{ cp -f -- "${gnuconfig}/${f##*/}" "${f}.$$" && mv -f -- "${f}.$$" "${f}"; } || die "econf: cannot update ${f}"
		done < <(find "${WORKDIR}" \( -name config.guess -o -name config.sub \) ! -type d -print0)
	fi

	local __help
	__help=$("${cfg}" --help 2>/dev/null)

	local -a conf=(--prefix="${EPREFIX}"/usr)
	[[ -n ${CBUILD} ]] && conf+=(--build="${CBUILD}")
	[[ -n ${CHOST} ]] && conf+=(--host="${CHOST}")
	[[ -n ${CTARGET} ]] && conf+=(--target="${CTARGET}")
	conf+=(
		--mandir="${EPREFIX}"/usr/share/man
		--infodir="${EPREFIX}"/usr/share/info
		--datadir="${EPREFIX}"/usr/share
		--sysconfdir="${EPREFIX}"/etc
		--localstatedir="${EPREFIX}"/var/lib
	)
	___eapi_econf_passes_datarootdir && __ouzo_help_has --datarootdir && conf+=(--datarootdir="${EPREFIX}"/usr/share)
	___eapi_econf_passes_disable_dependency_tracking && __ouzo_help_has --disable-dependency-tracking &&
		conf+=(--disable-dependency-tracking)
	___eapi_econf_passes_disable_silent_rules && __ouzo_help_has --disable-silent-rules && conf+=(--disable-silent-rules)
	___eapi_econf_passes_disable_static && __ouzo_help_has --enable-shared && __ouzo_help_has --enable-static &&
		conf+=(--disable-static)
	if ___eapi_econf_passes_docdir_htmldir; then
		__ouzo_help_has --docdir && conf+=(--docdir="${EPREFIX}"/usr/share/doc/${PF})
		__ouzo_help_has --htmldir && conf+=(--htmldir="${EPREFIX}"/usr/share/doc/${PF}/html)
	fi
	___eapi_econf_passes_with_sysroot && __ouzo_help_has --with-sysroot && conf+=(--with-sysroot="${ESYSROOT:-/}")

	# --libdir from the profile's ABI, under the caller's (exec-)prefix.
	local v=LIBDIR_${ABI} x have_libdir= eprefix= prefix= have_eprefix= have_prefix=
	for x in "$@"; do
		case ${x} in
			--libdir=*) have_libdir=1 ;;
			--exec-prefix=*) eprefix=${x#*=} have_eprefix=1 ;;
			--prefix=*) prefix=${x#*=} have_prefix=1 ;;
		esac
	done
	if [[ ${ABI} =~ ^[A-Za-z0-9_]+$ && -n ${!v} && -z ${have_libdir} ]]; then
		local base=${EPREFIX}/usr libdir=${!v} __s
		if [[ -n ${have_eprefix} ]]; then
			base=${eprefix}
		elif [[ -n ${have_prefix} ]]; then
			base=${prefix}
		fi
		[[ ${base} == /* ]] || base=/${base}
		[[ ${libdir} == /* ]] || libdir=/${libdir}
		__ouzo_squeeze_slashes "${base}"
		CONF_PREFIX=${__s}
		__ouzo_squeeze_slashes "${base}${libdir}"
		conf+=(--libdir="${__s}")
	fi

	conf+=("$@")
	if [[ -n ${EXTRA_ECONF} ]]; then
		local -a extra
		local -
		set -f
		eval "extra=(${EXTRA_ECONF})" || die "econf: cannot parse EXTRA_ECONF"
		set +f
		conf+=("${extra[@]}")
	fi

	__ouzo_show_cmd "${cfg}" "${conf[@]}"
	if ! "${cfg}" "${conf[@]}"; then
		if [[ -s config.log ]]; then
			echo >&2
			echo "!!! Please attach the following file when seeking support:" >&2
			echo "!!! ${PWD}/config.log" >&2
		fi
		__ouzo_fail_or_die "econf failed"
		return
	fi
}

if ! ___eapi_banned_einstall; then
	einstall() {
		local __ed
		__ouzo_ed
		if [[ ! -f Makefile && ! -f GNUmakefile && ! -f makefile ]]; then
			die "einstall: no Makefile found"
		fi
		local -
		set -f
		local -a cmd=(${MAKE:-make}
			prefix="${__ed}/usr" datadir="${__ed}/usr/share" infodir="${__ed}/usr/share/info"
			localstatedir="${__ed}/var/lib" mandir="${__ed}/usr/share/man" sysconfdir="${__ed}/etc")
		local v=LIBDIR_${ABI} __s
		if [[ -n ${CONF_PREFIX} && ${ABI} =~ ^[A-Za-z0-9_]+$ && -n ${!v} ]]; then
			__ouzo_squeeze_slashes "${D%/}/${CONF_PREFIX}/${!v}"
			cmd+=(libdir="${__s}")
		fi
		cmd+=(${EXTRA_EINSTALL} ${MAKEOPTS} -j1 "$@" ${EXTRA_EMAKE} install)
		set +f
		__ouzo_show_cmd "${cmd[@]}"
		"${cmd[@]}" || __ouzo_fail_or_die "einstall failed"
	}
else
	einstall() { __ouzo_banned einstall "use emake DESTDIR=\"\${D}\" install"; }
fi

# ---- einstalldocs (spec §3.12) ----

if ___eapi_has_einstalldocs; then
	einstalldocs() {
		(
			shopt -u failglob
			docinto /
			if ! declare -p DOCS &>/dev/null; then
				local d
				local -a found=()
				for d in README* ChangeLog AUTHORS NEWS TODO CHANGES THANKS BUGS FAQ CREDITS CHANGELOG; do
					[[ -f ${d} && -s ${d} ]] && found+=("${d}")
				done
				if ((${#found[@]})); then dodoc "${found[@]}" || exit; fi
			elif [[ $(declare -p DOCS) == "declare -a"* ]]; then
				if ((${#DOCS[@]})); then dodoc -r "${DOCS[@]}" || exit; fi
			elif [[ -n ${DOCS} ]]; then
				dodoc -r ${DOCS} || exit
			fi
			if [[ $(declare -p HTML_DOCS 2>/dev/null) == "declare -a"* ]]; then
				if ((${#HTML_DOCS[@]})); then
					docinto html
					dodoc -r "${HTML_DOCS[@]}" || exit
				fi
			elif [[ -n ${HTML_DOCS} ]]; then
				docinto html
				dodoc -r ${HTML_DOCS} || exit
			fi
		)
	}
fi

# ---- eapply, eapply_user (spec §3.7) ----

if ___eapi_has_eapply; then
	# Apply one patch file; __patch_opts holds the patch options.
	__ouzo_apply_one() {
		local f=$1 out rc patch=patch
		type -P gpatch >/dev/null && patch=gpatch
		ebegin "Applying ${f##*/}"
		out=$(
			unset LC_ALL
			export LC_MESSAGES=C
			exec "${patch}" -p1 -f -g0 --no-backup-if-mismatch "${__patch_opts[@]}" <"${f}" 2>&1
		)
		rc=$?
		if ((rc != 0)) || [[ ${out} == *"with fuzz"* ]]; then
			echo "${out}" >&2
		fi
		eend "${rc}"
		if ((rc != 0)); then
			__ouzo_fail_or_die "eapply: applying ${f} failed" || return "${rc}"
		fi
		return 0
	}

	eapply() {
		local -a __patch_opts=() paths=()
		local x seen_dashdash=
		for x in "$@"; do
			[[ ${x} == -- ]] && seen_dashdash=1 && break
		done
		if [[ -n ${seen_dashdash} ]]; then
			while (($#)); do
				if [[ $1 == -- ]]; then
					shift
					break
				fi
				__patch_opts+=("$1")
				shift
			done
			paths=("$@")
		else
			for x in "$@"; do
				if [[ ${x} == -* ]]; then
					((${#paths[@]})) && die "eapply: options must come before the patches (got '${x}' after a patch)"
					__patch_opts+=("${x}")
				else
					paths+=("${x}")
				fi
			done
		fi
		((${#paths[@]})) || die "eapply: no patches given"
		local -a list
		local f
		for x in "${paths[@]}"; do
			if [[ -d ${x} ]]; then
				mapfile -d '' -t list < <(
					shopt -s nullglob
					shopt -u failglob
					for f in "${x}"/*.diff "${x}"/*.patch; do
						[[ -f ${f} ]] && printf '%s\0' "${f}"
					done | LC_ALL=C sort -z
				)
				((${#list[@]})) || die "eapply: no *.diff or *.patch files in directory ${x}"
				einfo "Applying patches from ${x} ..."
				for f in "${list[@]}"; do
					__ouzo_apply_one "${f}" || return
				done
			elif [[ -f ${x} ]]; then
				__ouzo_apply_one "${x}" || return
			else
				__ouzo_fail_or_die "eapply: ${x} is neither a file nor a directory" || return
			fi
		done
		return 0
	}

	eapply_user() {
		[[ ${EBUILD_PHASE} == prepare ]] || die "eapply_user: only allowed in src_prepare (called in ${EBUILD_PHASE})"
		local tagfile=${T}/.portage_user_patches_applied
		[[ -f ${tagfile} ]] && return 0
		: >"${tagfile}"
		local base=${PORTAGE_CONFIGROOT%/}/etc/portage/patches
		local slot=${SLOT%/*} d f name
		local -A patches=()
		for d in "${PN}" "${PN}:${slot}" "${P}" "${P}:${slot}" "${P}-${PR}" "${P}-${PR}:${slot}"; do
			d=${base}/${CATEGORY}/${d}
			[[ -e ${d} || -L ${d} ]] || continue
			[[ -d ${d} && -r ${d} && -x ${d} ]] || die "eapply_user: ${d} is not a readable directory"
			while IFS= read -r -d '' f; do
				name=${f##*/}
				if [[ -s ${f} ]]; then
					patches[${name}]=${f}
				else
					unset "patches[${name}]"
				fi
			done < <(
				shopt -s nullglob
				shopt -u failglob
				for f in "${d}"/*.diff "${d}"/*.patch; do printf '%s\0' "${f}"; done
			)
		done
		((${#patches[@]})) || return 0
		local -a names
		mapfile -d '' -t names < <(printf '%s\0' "${!patches[@]}" | LC_ALL=C sort -z)
		einfo "${PORTAGE_COLOR_INFO}==================================================${PORTAGE_COLOR_NORMAL}"
		einfo "Applying user patches from ${base} ..."
		for name in "${names[@]}"; do
			eapply -- "${patches[${name}]}" || return
		done
		einfo "User patches applied."
		einfo "${PORTAGE_COLOR_INFO}==================================================${PORTAGE_COLOR_NORMAL}"
	}
fi

# ---- unpack (spec §3.5) ----

# The extraction kind of a suffix (__kind), for this EAPI; 1 if it is not one unpack knows.
__ouzo_unpack_kind() {
	case $1 in
		tar) __kind=tar ;;
		tar.gz | tgz | tar.Z | tar.z) __kind=tar:gz ;;
		tar.bz2 | tbz2 | tar.bz | tbz) __kind=tar:bz2 ;;
		tar.lzma) __kind=tar:lzma ;;
		tar.xz) ___eapi_has_xz && __kind=tar:xz ;;
		txz) ___eapi_has_txz && __kind=tar:xz ;;
		gz | Z | z) __kind=gz ;;
		bz2 | bz) __kind=bz2 ;;
		lzma) __kind=lzma ;;
		xz) ___eapi_has_xz && __kind=xz ;;
		zip | ZIP | jar) __kind=zip ;;
		7z | 7Z) ___eapi_has_7z_rar_lha && __kind=7z ;;
		rar | RAR) ___eapi_has_7z_rar_lha && __kind=rar ;;
		lha | LHa | LHA | lzh) ___eapi_has_7z_rar_lha && __kind=lha ;;
		a) __kind=ar ;;
		deb) __kind=deb ;;
		*) return 1 ;;
	esac
}

# Number of make jobs in MAKEOPTS (0: unlimited), for xz -T.
__ouzo_make_jobs() {
	local x want= j=1
	local -
	set -f
	for x in ${MAKEOPTS}; do
		if [[ -n ${want} ]]; then
			want=
			[[ ${x} =~ ^[0-9]+$ ]] && j=${x} && continue
		fi
		case ${x} in
			-j | --jobs) want=1 j=0 ;;
			-j* | --jobs=*)
				x=${x#-j}
				x=${x#--jobs=}
				[[ ${x} =~ ^[0-9]+ ]] && j=${BASH_REMATCH[0]}
				;;
		esac
	done
	__jobs=${j}
}

# Decompressor of a kind, reading stdin, writing stdout.
__ouzo_decompress() {
	local -
	set -f
	case $1 in
		gz) gzip -d ;;
		bz2)
			if [[ -n ${PORTAGE_BUNZIP2_COMMAND} ]]; then
				${PORTAGE_BUNZIP2_COMMAND}
			elif [[ -n ${PORTAGE_BZIP2_COMMAND} ]]; then
				${PORTAGE_BZIP2_COMMAND} -d
			else
				bzip2 -d
			fi
			;;
		lzma) xz -F lzma -d ;;
		xz)
			local __jobs
			__ouzo_make_jobs
			xz -T"${__jobs}" -d
			;;
	esac
}

__ouzo_unpack_one() {
	local path=$1 base=$2 kind=$3 out
	case ${kind} in
		tar) tar -xof "${path}" ;;
		tar:*)
			__ouzo_decompress "${kind#tar:}" <"${path}" | tar -xof -
			local -a st=("${PIPESTATUS[@]}")
			((st[0] == 0 && st[1] == 0))
			;;
		gz | bz2 | lzma | xz) __ouzo_decompress "${kind}" <"${path}" >"./${base%.*}" ;;
		zip) unzip -qo "${path}" </dev/null ;;
		7z)
			out=$(7z x -y "${path}" 2>&1) || {
				echo "${out}" >&2
				return 1
			}
			;;
		rar) unrar x -idq -o+ "${path}" ;;
		lha) lha xfq "${path}" ;;
		ar | deb) ar x "${path}" ;;
	esac
}

unpack() {
	(($#)) || die "unpack: at least one file needed"
	local f path base sfx rest lower __kind
	for f in "$@"; do
		if [[ ${f} != */* ]]; then
			path=${DISTDIR%/}/${f}
		elif [[ ${f} == ./* ]]; then
			path=${f}
		elif ___eapi_unpack_any_path; then
			path=${f}
			[[ ${f} == "${DISTDIR%/}"/* ]] && eqawarn "QA Notice: unpack called with a redundant \${DISTDIR} in the path: ${f}"
		elif [[ ${f} == "${DISTDIR%/}"/* ]]; then
			die "unpack: arguments cannot begin with \${DISTDIR} in EAPI ${EAPI}: ${f}"
		elif [[ ${f} == /* ]]; then
			die "unpack: arguments cannot be absolute in EAPI ${EAPI}: ${f}"
		else
			die "unpack: relative paths must be prefixed with './' in EAPI ${EAPI}: ${f}"
		fi
		[[ -e ${path} ]] || die "unpack: ${path} does not exist"
		[[ -f ${path} ]] || die "unpack: ${path} is not a regular file"
		[[ -s ${path} ]] || die "unpack: ${path} is empty"

		base=${f##*/} sfx= __kind=
		if [[ ${base} == *.* ]]; then
			sfx=${base##*.}
			rest=${base%.*}
			[[ ${rest} == *.* && ${rest##*.} == [Tt][Aa][Rr] ]] && sfx=${rest##*.}.${sfx}
		fi
		lower=${sfx,,}
		if [[ -z ${sfx} ]]; then
			:
		elif ___eapi_unpack_case_insensitive; then
			__ouzo_unpack_kind "${lower}"
		elif ! __ouzo_unpack_kind "${sfx}" && __ouzo_unpack_kind "${lower}"; then
			eqawarn "QA Notice: unpack: the suffix of ${base} has the wrong case for EAPI ${EAPI} (extracting it anyway)"
		fi
		if [[ -z ${__kind} ]]; then
			echo "unpack ${f}: file format not recognized, skipping" >&2
			continue
		fi
		echo ">>> Unpacking ${f} to ${PWD}" >&2
		__ouzo_unpack_one "${path}" "${base}" "${__kind}" || die "unpack: failed to unpack ${path}"
	done
	# Make the unpacked tree usable: files a+r,u+w,go-w; directories also a+x (not through symlinks,
	# and not the current directory itself).
	find . -mindepth 1 \( -type d \( ! -perm -0755 -o -perm /0022 \) -exec chmod a+rx,u+w,go-w {} + \) \
		-o \( -type f \( ! -perm -0644 -o -perm /0022 \) -exec chmod a+r,u+w,go-w {} + \) ||
		die "unpack: cannot fix the modes of the unpacked files"
}

# ---- misc (spec §3.12) ----

if ___eapi_has_get_libdir; then
	get_libdir() {
		local v=LIBDIR_${ABI}
		if [[ ${ABI} =~ ^[A-Za-z0-9_]+$ && -n ${!v} ]]; then
			echo "${!v}"
		else
			echo lib
		fi
	}
fi

nonfatal() {
	___eapi_has_nonfatal || die "nonfatal is not available in EAPI ${EAPI}"
	(($#)) || die "nonfatal: a command is needed"
	PORTAGE_NONFATAL=1 "$@"
}

if ___eapi_has_edo; then
	edo() {
		einfo "$(__ouzo_show_cmd "$@")"
		"$@" || die -n "Failed to run command: $(__ouzo_show_cmd "$@")"
	}
fi

if ___eapi_has_pipestatus; then
	pipestatus() {
		local -a __ps=("${PIPESTATUS[@]}")
		local s ret=0
		if (($# > 1)) || [[ $# -eq 1 && $1 != -v ]]; then
			die "pipestatus: the only option is -v"
		fi
		[[ $1 == -v ]] && echo "${__ps[*]}"
		for s in "${__ps[@]}"; do
			((s != 0)) && ret=${s}
		done
		return "${ret}"
	}
fi

if ___eapi_has_ver_replacing; then
	ver_replacing() {
		(($# == 2)) || die "ver_replacing: an operator and a version needed"
		local v
		for v in ${REPLACING_VERSIONS}; do
			ver_test "${v}" "$1" "$2" && return 0
		done
		return 1
	}
fi

if ___eapi_banned_assert; then
	assert() { __ouzo_banned assert "use pipestatus"; }
fi

# ---- sandbox lists (spec §3.15) ----

__ouzo_sandbox_add() {
	local name=$1 var=$2
	shift 2
	[[ ${EBUILD_PHASE} == depend ]] && die "${name}: not allowed in the depend phase"
	(($# == 1)) || die "${name}: exactly one path needed"
	[[ -n $1 ]] || die "${name}: the path is empty"
	[[ $1 == *:* ]] && die "${name}: the path must not contain ':' (${1})"
	local cur=${!var}
	printf -v "${var}" '%s' "${cur:+${cur}:}$1"
	export "${var?}"
}

addread() { __ouzo_sandbox_add addread SANDBOX_READ "$@"; }
addwrite() {
	__ouzo_sandbox_add addwrite SANDBOX_WRITE "$@"
	# A Landlock domain cannot be widened (build spec §8.8): inside a sandboxed phase the path is
	# writable from the next phase on, unless the build directory already covers it.
	if [[ -n ${__OUZO_SEALED} && ${1%/}/ != "${PORTAGE_BUILDDIR%/}"/* ]]; then
		eqawarn "QA Notice: addwrite ${1} called after the sandbox was sealed: it takes effect from the next phase"
	fi
	return 0
}
addpredict() { __ouzo_sandbox_add addpredict SANDBOX_PREDICT "$@"; }
adddeny() { __ouzo_sandbox_add adddeny SANDBOX_DENY "$@"; }

# ---- hooks (spec §3.1) ----

register_die_hook() {
	local f
	for f in "$@"; do
		has "${f}" ${EBUILD_DEATH_HOOKS} || EBUILD_DEATH_HOOKS+=" ${f}"
	done
	export EBUILD_DEATH_HOOKS=${EBUILD_DEATH_HOOKS# }
}

register_success_hook() {
	local f
	for f in "$@"; do
		has "${f}" ${EBUILD_SUCCESS_HOOKS} || EBUILD_SUCCESS_HOOKS+=" ${f}"
	done
	export EBUILD_SUCCESS_HOOKS=${EBUILD_SUCCESS_HOOKS# }
}

# ---- Portage extensions (spec §3.16); prepstrip, prepinfo, prepman are external ----

prepall() { die "prepall: not allowed in ebuild scope"; }
prepalldocs() { die "prepalldocs: not allowed in ebuild scope"; }
prepallinfo() { die "prepallinfo: not allowed in ebuild scope"; }
prepallman() { die "prepallman: not allowed in ebuild scope"; }
prepallstrip() { die "prepallstrip: not allowed in ebuild scope"; }

if ! ___eapi_banned_dosed; then
	# dosed [expression | file]…: files (relative to ED) are edited with the current expression.
	dosed() {
		local __ed
		__ouzo_ed
		local expr="s:${__ed}::g" x edited=
		for x in "$@"; do
			if [[ -f ${__ed}/${x#/} ]]; then
				sed -i -e "${expr}" -- "${__ed}/${x#/}" || {
					__helpers_die "dosed: sed failed on ${x}"
					return
				}
				edited=1
			else
				expr=${x}
			fi
		done
		[[ -n ${edited} ]] || __helpers_die "dosed: no existing file named in: $*"
	}
	dohard() {
		(($# == 2)) || {
			__helpers_die "dohard: exactly two arguments needed"
			return
		}
		local __ed
		__ouzo_ed
		ln -f -- "${__ed}/${1#/}" "${__ed}/${2#/}" || __helpers_die "dohard failed"
	}
else
	dosed() { __ouzo_banned dosed "use sed -i"; }
	dohard() { __ouzo_banned dohard; }
fi
