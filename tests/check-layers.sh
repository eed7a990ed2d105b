#!/usr/bin/env bash
# tests/check-layers.sh - fails when a file includes a header from a layer above its own.
#
# Usage: tests/check-layers.sh [ROOT]     checks the tree at ROOT (default: this checkout)
#        tests/check-layers.sh --self-test runs the check on small trees it makes, and fails
#                                           unless it catches what they break
#
# Layers, lowest first (docs/architecture.md):
#   warren  include/warren/*.h, the public API: it includes nothing from core/; every
#           layer may include it. Built-in modules (modules/) and plugins (plugins/) are its
#           clients and may include nothing else either; so are the test kit (testkit/) and
#           the template of warren new-plugin (templates/), which build outside the tree.
#   base    core/base     event  core/event     http  core/http     server  core/server
# A file may include headers of its own layer and of the layers below. tests/ is exempt.
#
# Upward includes that are known and not yet undone are listed in tests/check-layers.allow,
# one per line: "FILE HEADER REASON...", e.g. "core/http/http.h server/worker.h why".
# The check also fails on an entry that no longer names an upward include, and on an
# entry without a reason. Exit status: 0 clean, 1 violations, 2 usage.
set -u -o pipefail

LAYERS=(warren base event http server)

rank() {
	local i
	for i in "${!LAYERS[@]}"; do
		[ "${LAYERS[i]}" = "$1" ] && echo "$i" && return
	done
	echo -1
}

# The layer a file under ROOT belongs to, or nothing for an exempt file.
file_layer() {
	case $1 in
	include/warren/*) echo warren ;;
	modules/* | plugins/* | testkit/* | templates/*) echo warren ;;
	core/*/*) local l=${1#core/}; echo "${l%%/*}" ;;
	esac
}

# check ROOT: prints violations, returns 1 if any.
check() {
	local root=$1 allow=$1/tests/check-layers.allow
	local -A allowed=() used=()
	local bad=0 files=0 ups=0 f layer r hdr hl hr line key reason n=0

	if [ -f "$allow" ]; then
		while IFS= read -r line || [ -n "$line" ]; do
			n=$((n + 1))
			line=${line%%$'\r'}
			[[ $line =~ ^[[:space:]]*(#|$) ]] && continue
			read -r f hdr reason <<<"$line"
			key="$f $hdr"
			if [ -z "$hdr" ] || [ -z "$reason" ]; then
				echo "check-layers: $allow:$n: entry without a reason: $line"
				bad=1
				continue
			fi
			allowed[$key]=$n
		done <"$allow"
	fi

	while IFS= read -r -d '' f; do
		f=${f#"$root"/}
		layer=$(file_layer "$f")
		[ -n "$layer" ] || continue
		r=$(rank "$layer")
		if [ "$r" -lt 0 ]; then
			echo "check-layers: $f: core/$layer is not a known layer (${LAYERS[*]:1})"
			bad=1
			continue
		fi
		files=$((files + 1))
		while IFS= read -r hdr; do
			hl=${hdr%%/*}
			hr=$(rank "$hl")
			[ "$hr" -ge 0 ] || continue
			[ "$hr" -gt "$r" ] || continue
			key="$f $hdr"
			if [ -n "${allowed[$key]+x}" ]; then
				used[$key]=1
				ups=$((ups + 1))
				continue
			fi
			echo "check-layers: $f ($layer) includes $hdr ($hl, a layer above)"
			bad=1
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]\([A-Za-z0-9_]*\/[^">]*\)[">].*/\1/p' "$root/$f")
	done < <(find "$root/core" "$root/include/warren" "$root/modules" "$root/plugins" \
		"$root/testkit" "$root/templates" \( -name '*.c' -o -name '*.h' \) -type f -print0 2>/dev/null | sort -z)

	for key in "${!allowed[@]}"; do
		if [ -z "${used[$key]+x}" ]; then
			echo "check-layers: $allow:${allowed[$key]}: stale entry, no such upward include: $key"
			bad=1
		fi
	done
	if [ "$bad" -ne 0 ]; then
		echo "check-layers: FAILED (order: ${LAYERS[*]}; see docs/architecture.md)"
		return 1
	fi
	echo "check-layers: $files files, $ups allowed upward includes (tests/check-layers.allow): ok"
}

# ---- self-test ---------------------------------------------------------------------------

# expect STATUS WHAT ROOT: runs the check on ROOT and fails unless it exits with STATUS.
expect() {
	local want=$1 what=$2 out status
	out=$(check "$3" 2>&1)
	status=$?
	if [ "$status" -ne "$want" ]; then
		echo "check-layers self-test: $what: exit $status, expected $want; output:"
		echo "$out"
		return 1
	fi
}

self_test() {
	local t fails=0
	t=$(mktemp -d "${TMPDIR:-/tmp}/check-layers.XXXXXX") || return 2
	trap 'rm -rf "$t"' RETURN
	mkdir -p "$t"/core/{base,event,http,server} "$t"/include/warren "$t"/tests "$t"/plugins/p
	printf '#include <warren/module.h>\n' >"$t/core/base/common.h"
	printf '#include "base/common.h"\n' >"$t/core/event/reactor.h"
	printf '#include "event/reactor.h"\n#include <stdio.h>\n' >"$t/core/http/conn.c"
	printf '#include "http/http.h"\n' >"$t/core/server/worker.c"
	printf '#include <warren/version.h>\n' >"$t/include/warren/module.h"
	printf '#include <warren/module.h>\n' >"$t/plugins/p/p.c"
	expect 0 "a clean tree" "$t" || fails=1

	printf '#include "server/config.h"\n' >>"$t/core/event/reactor.h"
	expect 1 "event including server" "$t" || fails=1
	printf 'core/event/reactor.h server/config.h\n' >"$t/tests/check-layers.allow"
	expect 1 "an entry without a reason" "$t" || fails=1
	printf 'core/event/reactor.h server/config.h the backend enum\n' >"$t/tests/check-layers.allow"
	expect 0 "an allowed upward include" "$t" || fails=1
	printf '  #  include "http/http.h"\n' >>"$t/core/base/common.h"
	expect 1 "base including http, spaced out" "$t" || fails=1
	printf '#include "base/common.h"\n' >"$t/core/base/common.h"
	sed -i '/server/d' "$t/core/event/reactor.h"
	expect 1 "a stale entry" "$t" || fails=1
	: >"$t/tests/check-layers.allow"
	expect 0 "the tree fixed again" "$t" || fails=1
	printf '#include "base/common.h"\n' >>"$t/include/warren/module.h"
	expect 1 "the public API including core" "$t" || fails=1
	sed -i '/base/d' "$t/include/warren/module.h"
	printf '#include "http/http.h"\n' >>"$t/plugins/p/p.c"
	expect 1 "a plugin including core" "$t" || fails=1

	[ "$fails" -eq 0 ] && echo "check-layers self-test: ok"
	return "$fails"
}

case ${1-} in
--self-test) self_test ;;
-*) echo "usage: $0 [ROOT] | --self-test" >&2; exit 2 ;;
*) check "${1:-$(cd "$(dirname "$0")/.." && pwd)}" ;;
esac
