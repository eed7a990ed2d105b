#!/usr/bin/env bash
# tests/run-suites.sh - runs Check test programs, streams their output and sums up their results.
#
# Usage: tests/run-suites.sh [-e NAME=VALUE | -w WRAPPER | PROGRAM]...
# Each -e sets NAME=VALUE for the programs after it (a later -e for NAME replaces it), so
# one run covers the integration programs once per event backend. -w runs the programs
# after it under WRAPPER (split into words, e.g. a valgrind command line; "" for none). The last line is the
# total, e.g. "123 passed, 0 failed" (", 2 skipped" when programs exited 77). Exit status 1
# when any program failed, crashed, timed out or printed no Check summary. TEST_TIMEOUT
# (300 s) bounds each program.
set -u -o pipefail

timeout_s=${TEST_TIMEOUT:-300}
passed=0 failed=0 skipped=0 bad=0
env_set=()
wrapper=()
report=()

out=$(mktemp "${TMPDIR:-/tmp}/run-suites.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT

# set_env NAME=VALUE: replaces an earlier value of NAME.
set_env() {
	local i
	for i in "${!env_set[@]}"; do
		[ "${env_set[i]%%=*}" = "${1%%=*}" ] && unset 'env_set[i]'
	done
	env_set=(${env_set[@]+"${env_set[@]}"} "$1")
}

run_one() {
	local prog=$1 label=$1 status checks=0 fails=0 errs=0 n line
	local re='^[0-9]+%: Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+)'

	[ ${#env_set[@]} -gt 0 ] && label="$prog [${env_set[*]}]"
	echo "=== $label"
	env ${env_set[@]+"${env_set[@]}"} timeout -k 10 "$timeout_s" \
		${wrapper[@]+"${wrapper[@]}"} "$prog" 2>&1 | tee "$out"
	status=${PIPESTATUS[0]}

	n=0
	while IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			checks=$((checks + BASH_REMATCH[1]))
			fails=$((fails + BASH_REMATCH[2]))
			errs=$((errs + BASH_REMATCH[3]))
			n=$((n + 1))
		fi
	done <"$out"

	if [ "$status" -eq 77 ]; then
		skipped=$((skipped + 1))
		report+=("SKIP  $label: $(tail -n 1 "$out")")
		return
	fi
	passed=$((passed + checks - fails - errs))
	failed=$((failed + fails + errs))

	local why=
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		why="timed out after ${timeout_s}s"
	elif [ "$status" -gt 128 ]; then
		why="killed by signal $((status - 128))"
	elif [ "$n" -eq 0 ]; then
		why="no Check summary line (exit status $status)"
	elif [ "$fails" -gt 0 ] || [ "$errs" -gt 0 ]; then
		why="$((fails + errs)) of $checks checks failed"
	elif [ "$status" -ne 0 ]; then
		why="exit status $status"
	fi
	if [ -z "$why" ]; then
		report+=("PASS  $label ($checks checks)")
		return
	fi
	bad=$((bad + 1))
	# A program that failed without a failing check still counts once.
	[ "$fails" -eq 0 ] && [ "$errs" -eq 0 ] && failed=$((failed + 1))
	report+=("FAIL  $label: $why")
	# The failing checks themselves, so that the summary at the end of a long log (all a
	# CI page may keep) says which check failed and why.
	while IFS= read -r line; do
		report+=("      $line")
	done < <(grep -E '^[^ :]+:[0-9]+:[EF]:' "$out" | head -n 5 | cut -c1-400)
}

while [ $# -gt 0 ]; do
	case $1 in
	-w)
		[ $# -ge 2 ] || { echo "run-suites.sh: -w needs a command" >&2; exit 2; }
		read -r -a wrapper <<<"$2"
		shift 2
		;;
	-e)
		[[ ${2-} == *=* ]] || { echo "run-suites.sh: -e needs NAME=VALUE" >&2; exit 2; }
		set_env "$2"
		shift 2
		;;
	*)
		run_one "$1"
		shift
		;;
	esac
done

echo
if [ ${#report[@]} -gt 0 ]; then
	printf '%s\n' "${report[@]}"
else
	echo "no test programs"
fi
summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$bad" -eq 0 ]
