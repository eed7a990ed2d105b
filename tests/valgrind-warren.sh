#!/bin/sh
# tests/valgrind-warren.sh - stands in for the warren binary in the integration suites and
# runs it under valgrind; workers are forked, so valgrind follows them without exec tracing.
# Each process writes its report to $VALGRIND_LOG_DIR/PID.log, which stays empty when clean.
exec valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --log-file="$VALGRIND_LOG_DIR/%p.log" \
	"$WARREN_REAL_BIN" "$@"
