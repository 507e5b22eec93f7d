# shellcheck shell=bash
# The install helpers of spec §3.9 (do*, new*, doman), loaded by __ouzo_helper_main
# (helpers/_lib.sh) in the helper's own process: `__ouzo_cmd_<name>`. Subprocesses are batched
# (one `install` per destination directory); everything else is done by bash itself. dohtml is in
# _dohtml.sh, the helpers of §3.10, emake, nonfatal and prep* in _misc.sh (each helper parses
# only the part it needs: parsing is most of a helper's start-up).

# ---- the install engine shared by doins, dodoc, doheader, doconfd, doenvd, doexe, doinitd,
# dobin, dosbin, dolib*, doinfo and the new* forms ----
#
# Settings (globals, set by the caller before __ouzo_install):
#   __opts     install(1) options for files (array)
#   __dopts    install(1) options for directories it creates (array)
#   __links    non-empty: a symlink source is installed as a symlink with the same target text
#   __dirs     what a directory argument does: rec (-r: install it recursively), skip (with a
#              message), fail
# Results: __fail (non-empty when something failed), __count (entries installed).

# Splits a list of symlinks (__lk) into those kept as symlinks (__lk) and those whose target is
# an absolute path into the real distfile directory (appended to __fl, copied as files), so that
# `doins "${DISTDIR}/x"` through the build's distdir of symlinks installs the file.
__ouzo_distdir_links() {
	local real=${PORTAGE_ACTUAL_DISTDIR%/} fake=${DISTDIR%/} i
	[[ -n ${real}${fake} && ${#__lk[@]} -gt 0 ]] || return 0
	local -a targets keep=()
	mapfile -t targets < <(readlink -- "${__lk[@]}")
	for i in "${!__lk[@]}"; do
		if [[ (-n ${real} && ${targets[i]} == "${real}"/*) || (-n ${fake} && ${targets[i]} == "${fake}"/*) ]]; then
			__fl+=("${__lk[i]}")
		else
			keep+=("${__lk[i]}")
		fi
	done
	__lk=("${keep[@]}")
}

# Install the collected files (__fl) and symlinks (__lk) into one directory.
__ouzo_flush() {
	local dest=$1
	((${#__lk[@]})) && __ouzo_distdir_links
	if ((${#__fl[@]})); then
		if install "${__opts[@]}" -t "${dest}" -- "${__fl[@]}"; then
			((__count += ${#__fl[@]}))
		else
			__fail=1
		fi
	fi
	if ((${#__lk[@]})); then
		if cp -Pf --remove-destination -t "${dest}" -- "${__lk[@]}"; then
			((__count += ${#__lk[@]}))
		else
			__fail=1
		fi
	fi
}

# doins -r of one directory: recreate it (empty subdirectories too) under dest.
__ouzo_install_tree() {
	local src=$1 dest=$2 e
	local -a __fl=() __lk=() subdirs=()
	__ouzo_mkdir "${dest}" || {
		__fail=1
		return 1
	}
	((__count++))
	shopt -s nullglob dotglob
	for e in "${src}"/*; do
		if [[ -L ${e} && -n ${__links} ]]; then
			__lk+=("${e}")
		elif [[ -d ${e} ]]; then
			subdirs+=("${e}")
		elif [[ -f ${e} ]]; then
			__fl+=("${e}")
		elif [[ -L ${e} ]]; then
			__ouzo_missing "${e}"
			__fail=1
		else
			echo "${__OUZO_HELPER}: skipping special file ${e}" >&2
		fi
	done
	shopt -u nullglob dotglob
	__ouzo_flush "${dest}"
	for e in "${subdirs[@]}"; do
		__ouzo_install_tree "${e}" "${dest}/${e##*/}"
	done
}

# Install the arguments into the image directory dest (absolute).
__ouzo_install() {
	local dest=$1 x base
	shift
	local -a __fl=() __lk=()
	__fail= __count=0
	__ouzo_mkdir "${dest}" || {
		__fail=1
		return 1
	}
	for x in "$@"; do
		if [[ -L ${x} && -n ${__links} ]]; then
			__lk+=("${x}")
		elif [[ -d ${x} ]]; then
			case ${__dirs} in
				rec)
					base=${x%%+(/)}
					base=${base##*/}
					if [[ -z ${base} || ${base} == . ]]; then
						# `doins -r .` (or `dir/.`): the contents go straight into dest
						__ouzo_install_tree "${x}" "${dest}"
					else
						__ouzo_install_tree "${x}" "${dest}/${base}"
					fi
					;;
				skip) echo "${__OUZO_HELPER}: ${x} is a directory, skipping it" >&2 ;;
				*)
					echo "!!! ${__OUZO_HELPER}: ${x} is a directory" >&2
					__fail=1
					;;
			esac
		elif [[ -e ${x} ]]; then
			__fl+=("${x}")
		else
			__ouzo_missing "${x}"
			__fail=1
		fi
	done
	__ouzo_flush "${dest}"
}

# A destination tree given with ${D}/${ED} in it would end up doubled (spec §3.9, doins).
__ouzo_check_tree() {
	local tree=$1
	if [[ ${tree} == "${__D}"/* || ${tree} == "${__D}" || (-n ${EPREFIX%/} && ${tree} == "${EPREFIX%/}"/*) ]]; then
		__helpers_die "${__OUZO_HELPER}: the destination '${tree}' starts with \${D} or \${EPREFIX}: you should not use \${D} or \${ED} with helpers"
		return 1
	fi
}

# install(1) ownership for dobin/dosbin: PORTAGE_INST_UID/GID (only root can give files away; the
# image step maps the build user's files to them anyway, spec §4.4).
__ouzo_owner_opts() {
	if ((EUID == 0)); then
		__opts+=(-o "${PORTAGE_INST_UID:-0}" -g "${PORTAGE_INST_GID:-0}")
	fi
}

__ouzo_libdir() {
	local v=LIBDIR_${ABI}
	if [[ ${ABI} =~ ^[A-Za-z0-9_]+$ && -n ${!v} ]]; then
		__libdir=${!v}
	else
		__libdir=lib
	fi
}

# ---- the do* helpers ----

__ouzo_cmd_doins() {
	__ouzo_image_init || return
	__dirs=skip
	if [[ $1 == -r ]]; then
		__dirs=rec
		shift
	fi
	(($#)) || {
		__ouzo_no_args
		return
	}
	__ouzo_check_tree "${__INSDESTTREE}" || return
	local -a __opts=(${INSOPTIONS:--m0644}) __dopts=(${DIROPTIONS:--m0755})
	___eapi_doins_follows_symlinks && __links= || __links=1
	__ouzo_image_path "${__INSDESTTREE}"
	__ouzo_install "${__p}" "$@"
	if [[ -z ${__fail} && ${__count} -eq 0 ]]; then
		echo "!!! ${__OUZO_HELPER}: nothing was installed" >&2
		__fail=1
	fi
	__ouzo_done
}

# doins into a fixed directory: doheader (-r allowed), doconfd, doenvd.
__ouzo_doins_fixed() {
	local dir=$1 allow_r=$2
	shift 2
	__ouzo_image_init || return
	__dirs=fail
	if [[ -n ${allow_r} && $1 == -r ]]; then
		__dirs=rec
		shift
	fi
	(($#)) || {
		__ouzo_no_args
		return
	}
	local -a __opts=(-m0644) __dopts=(${DIROPTIONS:--m0755})
	___eapi_helpers_honour_opts && __opts=(${INSOPTIONS:--m0644})
	___eapi_doins_follows_symlinks && __links= || __links=1
	__ouzo_image_path "${dir}"
	__ouzo_install "${__p}" "$@"
	__ouzo_done
}

__ouzo_cmd_doheader() {
	___eapi_has_doheader || __ouzo_banned_helper "doheader exists from EAPI 5 on"
	__ouzo_doins_fixed /usr/include 1 "$@"
}
__ouzo_cmd_doconfd() { __ouzo_doins_fixed /etc/conf.d "" "$@"; }
__ouzo_cmd_doenvd() { __ouzo_doins_fixed /etc/env.d "" "$@"; }

__ouzo_cmd_doexe() {
	__ouzo_image_init || return
	(($#)) || {
		__ouzo_no_args
		return
	}
	__ouzo_check_tree "${__EXEDESTTREE}" || return
	local -a __opts=(${EXEOPTIONS:--m0755}) __dopts=(${DIROPTIONS:--m0755})
	__links= __dirs=skip
	__ouzo_image_path "${__EXEDESTTREE}"
	__ouzo_install "${__p}" "$@"
	__ouzo_done
}

__ouzo_cmd_doinitd() {
	__ouzo_image_init || return
	(($#)) || {
		__ouzo_no_args
		return
	}
	local -a __opts=(-m0755) __dopts=(-m0755)
	___eapi_helpers_honour_opts && __opts=(${EXEOPTIONS:--m0755})
	__links= __dirs=fail
	__ouzo_image_path /etc/init.d
	__ouzo_install "${__p}" "$@"
	__ouzo_done
}

__ouzo_bin() {
	local sub=$1
	shift
	__ouzo_image_init || return
	(($#)) || {
		__ouzo_no_args
		return
	}
	__ouzo_check_tree "${__DESTTREE}" || return
	local -a __opts=(-m0755) __dopts=()
	__ouzo_owner_opts
	__links= __dirs=fail
	__ouzo_image_path "${__DESTTREE}/${sub}"
	__ouzo_install "${__p}" "$@"
	__ouzo_done
}
__ouzo_cmd_dobin() { __ouzo_bin bin "$@"; }
__ouzo_cmd_dosbin() { __ouzo_bin sbin "$@"; }

__ouzo_lib() {
	__ouzo_image_init || return
	(($#)) || {
		__ouzo_no_args
		return
	}
	__ouzo_check_tree "${__DESTTREE}" || return
	local -a __opts=("${__libopts[@]}") __dopts=()
	__links=1 __dirs=fail
	local __libdir
	__ouzo_libdir
	__ouzo_image_path "${__DESTTREE}/${__libdir}"
	__ouzo_install "${__p}" "$@"
	__ouzo_done
}
__ouzo_cmd_dolib() {
	___eapi_banned_dolib && __ouzo_banned_helper "use dolib.so or dolib.a"
	local -a __libopts=(${LIBOPTIONS:--m0644})
	__ouzo_lib "$@"
}
__ouzo_cmd_dolib_so() {
	local -a __libopts=(-m0755)
	__ouzo_lib "$@"
}
__ouzo_cmd_dolib_a() {
	local -a __libopts=(-m0644)
	__ouzo_lib "$@"
}

__ouzo_cmd_doinfo() {
	__ouzo_image_init || return
	(($#)) || {
		__ouzo_no_args
		return
	}
	local -a __opts=(-m0644) __dopts=()
	__links= __dirs=fail
	__ouzo_image_path /usr/share/info
	__ouzo_install "${__p}" "$@"
	__ouzo_done
}

__ouzo_cmd_dodoc() {
	__ouzo_image_init || return
	if (($# == 0)); then
		__ouzo_qa "dodoc called without arguments"
		return 0
	fi
	local -a __opts=(-m0644) __dopts=(-m0755) args=()
	local x
	if ___eapi_dodoc_recursive; then
		__dirs=fail
		if [[ $1 == -r ]]; then
			__dirs=rec
			shift
		fi
		___eapi_doins_follows_symlinks && __links= || __links=1
		args=("$@")
	else
		# EAPI ≤3: directories are skipped with a QA notice, empty files silently
		__dirs=fail __links=
		for x in "$@"; do
			if [[ -d ${x} ]]; then
				__ouzo_qa "dodoc: ${x} is a directory, skipping it"
			elif [[ -e ${x} && ! -s ${x} ]]; then
				:
			else
				args+=("${x}")
			fi
		done
	fi
	__ouzo_image_path "/usr/share/doc/${PF}/${__DOCDESTTREE}"
	__ouzo_install "${__p}" "${args[@]}"
	__ouzo_done
}

# doman [-i18n=L] file… (spec §3.9)
__ouzo_cmd_doman() {
	__ouzo_image_init || return
	(($#)) || {
		__ouzo_no_args
		return
	}
	local i18n= x name real sfx lang sect destname
	local -a __opts=(-m0644) __dopts=()
	__fail= __count=0
	local -A batch=()
	for x in "$@"; do
		if [[ ${x} == -i18n=* ]]; then
			i18n=${x#-i18n=}
			continue
		fi
		name=${x##*/}
		[[ ${name} == .keep_* ]] && continue
		real=${name} sfx=
		case ${name##*.} in
			Z | gz | bz2)
				__ouzo_qa "doman: ${x} is a compressed man page"
				sfx=.${name##*.}
				real=${name%.*}
				;;
		esac
		lang=${i18n} destname=${name}
		if ___eapi_doman_lang_from_name && { [[ -z ${i18n} ]] || ! ___eapi_doman_i18n_wins; } &&
			[[ ${real} =~ ^(.+)\.([a-z][a-z](_[A-Z][A-Z])?)\.([^.]+)$ ]]; then
			lang=${BASH_REMATCH[2]}
			destname=${BASH_REMATCH[1]}.${BASH_REMATCH[4]}${sfx}
			real=${BASH_REMATCH[1]}.${BASH_REMATCH[4]}
		fi
		sect=
		[[ ${real} == *.* ]] && sect=${real##*.}
		sect=${sect:0:1}
		if [[ ${sect} != [0-9n] ]]; then
			echo "doman: '${x}' is probably not a man page; skipping" >&2
			__fail=1
			continue
		fi
		if [[ ! -e ${x} ]]; then
			__ouzo_missing "${x}"
			__fail=1
			continue
		fi
		[[ -s ${x} ]] || continue
		__ouzo_image_path "/usr/share/man/${lang:+${lang}/}man${sect}"
		if [[ ${destname} == "${name}" ]]; then
			batch[${__p}]+="${x}"$'\n'
		else
			__ouzo_mkdir "${__p}" || __fail=1
			install "${__opts[@]}" -- "${x}" "${__p}/${destname}" || __fail=1
		fi
	done
	local dir
	local -a list
	for dir in "${!batch[@]}"; do
		mapfile -t list <<<"${batch[${dir}]%$'\n'}"
		__ouzo_mkdir "${dir}" || __fail=1
		install "${__opts[@]}" -t "${dir}" -- "${list[@]}" || __fail=1
	done
	__ouzo_done
}

# ---- new* (spec §3.9): copy src to a private directory under T as name, then the do form ----

__ouzo_new() {
	local doform=$1
	shift
	if (($# < 2)); then
		__helpers_die "${__OUZO_HELPER}: two arguments needed (source and new name)"
		return
	fi
	(($# > 2)) && __ouzo_qa "${__OUZO_HELPER} called with more than two arguments: ${*:3}"
	local src=$1 name=$2 __fail=
	if [[ -z ${name} || ${name} == */* ]]; then
		__helpers_die "${__OUZO_HELPER}: the new name '${name}' must be a plain file name"
		return
	fi
	local tmp=${T:-${TMPDIR:-/tmp}}/.ouzo_new.${BASHPID}
	rm -rf "${tmp}"
	mkdir -p "${tmp}" || {
		__helpers_die "${__OUZO_HELPER}: cannot create ${tmp}"
		return
	}
	if [[ ${src} == - ]] && ___eapi_newins_stdin; then
		if [[ -t 0 ]]; then
			rm -rf "${tmp}"
			__helpers_die "${__OUZO_HELPER}: the source is '-' but stdin is a terminal"
			return
		fi
		cat >"${tmp}/${name}" || __fail=1
	elif [[ ! -e ${src} && ! -L ${src} ]]; then
		rm -rf "${tmp}"
		__ouzo_missing "${src}"
		__helpers_die "${__OUZO_HELPER} failed"
		return
	elif [[ ${doform} == doins ]] && ! ___eapi_doins_follows_symlinks; then
		cp -P -- "${src}" "${tmp}/${name}" || __fail=1
	else
		cp -L -- "${src}" "${tmp}/${name}" || __fail=1
	fi
	if [[ -n ${__fail} ]]; then
		rm -rf "${tmp}"
		__helpers_die "${__OUZO_HELPER}: cannot copy ${src}"
		return
	fi
	local rc
	"__ouzo_cmd_${doform//./_}" "${tmp}/${name}"
	rc=$?
	rm -rf "${tmp}"
	return "${rc}"
}

__ouzo_cmd_newbin() { __ouzo_new dobin "$@"; }
__ouzo_cmd_newsbin() { __ouzo_new dosbin "$@"; }
__ouzo_cmd_newexe() { __ouzo_new doexe "$@"; }
__ouzo_cmd_newins() { __ouzo_new doins "$@"; }
__ouzo_cmd_newdoc() { __ouzo_new dodoc "$@"; }
__ouzo_cmd_newman() { __ouzo_new doman "$@"; }
__ouzo_cmd_newconfd() { __ouzo_new doconfd "$@"; }
__ouzo_cmd_newenvd() { __ouzo_new doenvd "$@"; }
__ouzo_cmd_newinitd() { __ouzo_new doinitd "$@"; }
__ouzo_cmd_newlib_so() { __ouzo_new dolib.so "$@"; }
__ouzo_cmd_newlib_a() { __ouzo_new dolib.a "$@"; }
__ouzo_cmd_newheader() {
	___eapi_has_doheader || __ouzo_banned_helper "newheader exists from EAPI 5 on"
	__ouzo_new doheader "$@"
}
