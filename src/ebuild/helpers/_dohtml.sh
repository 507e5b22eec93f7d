# shellcheck shell=bash
# dohtml (spec §3.9, EAPI ≤6), loaded by __ouzo_helper_main (helpers/_lib.sh).

# dohtml [-r] [-V] [-A ext,…] [-a ext,…] [-f name,…] [-x dir,…] [-p prefix] file… (EAPI ≤6)
__ouzo_cmd_dohtml() {
	___eapi_banned_dohtml && __ouzo_banned_helper "install HTML documentation with dodoc -r or doins"
	__ouzo_image_init || return
	local -a exts=(css gif htm html jpeg jpg js png) names=() skipdirs=(CVS SCCS RCS) files=()
	local rec= verbose= prefix= IFS_save=${IFS}
	while (($#)); do
		case $1 in
			-r) rec=1 ;;
			-V) verbose=1 ;;
			-A | -a | -f | -x | -p)
				(($# >= 2)) || {
					__helpers_die "dohtml: option $1 needs a value"
					return
				}
				local IFS=,
				case $1 in
					-A) exts+=($2) ;;
					-a) exts=($2) ;;
					-f) names+=($2) ;;
					-x) skipdirs=($2) ;;
					-p) prefix=$2 ;;
				esac
				IFS=${IFS_save}
				shift
				;;
			*) files+=("$1") ;;
		esac
		shift
	done
	((${#files[@]})) || {
		__ouzo_no_args
		return
	}
	local -a __dopts=(-m0755) __opts=(-m0644)
	__fail= __count=0
	__ouzo_image_path "/usr/share/doc/${PF}/${__DOCDESTTREE:-html}/${prefix}"
	local dest=${__p} x
	for x in "${files[@]}"; do
		if [[ ! -e ${x} ]]; then
			__ouzo_missing "${x}"
			__fail=1
		elif [[ -d ${x} ]]; then
			if [[ -n ${rec} ]]; then
				local b=${x%%+(/)}
				__ouzo_html_dir "${b}" "${dest}/${b##*/}"
			fi
		elif __ouzo_html_wanted "${x}"; then
			__ouzo_mkdir "${dest}" || __fail=1
			[[ -n ${verbose} ]] && echo "dohtml: installing ${x} into ${dest#"${__D}"}" >&2
			install "${__opts[@]}" -- "${x}" "${dest}/" || __fail=1
		fi
	done
	__ouzo_done
}

__ouzo_html_wanted() {
	local name=${1##*/} e
	for e in "${names[@]}"; do [[ ${name} == "${e}" ]] && return 0; done
	[[ ${name} == *.* ]] || return 1
	for e in "${exts[@]}"; do [[ ${name##*.} == "${e}" ]] && return 0; done
	return 1
}

__ouzo_html_dir() {
	local src=$1 dest=$2 e d
	for d in "${skipdirs[@]}"; do [[ ${src##*/} == "${d}" ]] && return 0; done
	local -a wanted=() subdirs=()
	shopt -s nullglob dotglob
	for e in "${src}"/*; do
		if [[ -d ${e} ]]; then
			subdirs+=("${e}")
		elif [[ -f ${e} ]] && __ouzo_html_wanted "${e}"; then
			wanted+=("${e}")
		fi
	done
	shopt -u nullglob dotglob
	if ((${#wanted[@]})); then
		__ouzo_mkdir "${dest}" || __fail=1
		[[ -n ${verbose} ]] && echo "dohtml: installing ${wanted[*]} into ${dest#"${__D}"}" >&2
		install "${__opts[@]}" -t "${dest}" -- "${wanted[@]}" || __fail=1
	fi
	for e in "${subdirs[@]}"; do
		__ouzo_html_dir "${e}" "${dest}/${e##*/}"
	done
}
