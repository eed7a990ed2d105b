#!/usr/bin/env bash
# tests/load-test.sh - warren under load and faults: a long wrk run (no errors, no worker RSS
# growth), kill -9 of workers under load (prompt respawn), and a slowloris attack.
#
# make check runs this once, not once per event backend, through run-suites.sh, so it ends
# with a Check-style summary line; it exits 77 (skipped) when wrk, slowhttptest or curl is
# missing. WARREN_BIN and WARREN_PLUGIN_DIR are the build under test (the plugin directory
# needs the test plugins: make tests); WARREN_TEST_EVENT, when set, picks the event backend;
# LOAD_SECONDS (60) is the length of the wrk run, which with the rest must stay under
# run-suites.sh's TEST_TIMEOUT. Every measurement is printed, whether a check passes or not.
# Everything started is stopped by pid and the temporary directory removed, however it ends.
set -eu -o pipefail

# EPOCHREALTIME must use a '.', and tools' output must not be translated.
export LC_ALL=C

src=$(cd "${WARREN_SRCDIR:-.}" && pwd)
bin=${WARREN_BIN:-$src/build/warren}
plugin_dir=${WARREN_PLUGIN_DIR:-$src/build/plugins}
load_seconds=${LOAD_SECONDS:-60}
event=${WARREN_TEST_EVENT:-}

for tool in curl wrk slowhttptest; do
	command -v "$tool" >/dev/null 2>&1 && continue
	echo "load-test: skipped: no $tool (apt-get install -y $tool, or ./configure --install-deps)"
	exit 77
done
case $load_seconds in
'' | *[!0-9]*) echo "load-test: LOAD_SECONDS must be a whole number of seconds" && exit 1 ;;
esac
[ "$load_seconds" -ge 4 ] || { echo "load-test: LOAD_SECONDS must be at least 4" && exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/warren-load-test.XXXXXX")
running=()    # warren masters
background=() # wrk and slowhttptest runs (their timeout(1) wrappers)
checks=0 failures=0

cleanup() {
	local pid

	for pid in ${background[@]+"${background[@]}"}; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	for pid in ${running[@]+"${running[@]}"}; do
		stop "$pid" >/dev/null 2>&1 || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# run_check NAME FUNCTION: runs FUNCTION as one check; it says why when it returns non-zero.
run_check() {
	checks=$((checks + 1))
	echo "--- $1"
	if "$2"; then
		echo "PASS  $1"
	else
		failures=$((failures + 1))
		echo "FAIL  $1"
	fi
}

# now_us: sets $now to microseconds on the wall clock, without a fork.
now_us() {
	now=${EPOCHREALTIME/./}
}

# sleep_until US: paces the test to a point in time (a schedule, not a synchronisation).
sleep_until() {
	local left

	now_us
	left=$(($1 - now))
	[ "$left" -le 0 ] || sleep "$((left / 1000000)).$(printf '%06d' $((left % 1000000)))"
}

# ms US: US microseconds as milliseconds with one decimal.
ms() {
	printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100))
}

# server_config FILE WORKERS EXTRA-MEMBERS: hello at /plaintext and lifecycle's pid handler
# (it answers with the pid of the worker that serves) at /pid, on a port the kernel picks.
server_config() {
	local ev=

	[ -z "$event" ] || ev="
  \"event\": \"$event\","
	cat >"$1" <<EOF
{
  "listen": ["127.0.0.1:0"],
  "workers": $2,$ev
  "log_level": "debug",$3
  "modules": [
    { "name": "hello", "path": "$plugin_dir/hello.so" },
    { "name": "lifecycle", "path": "$plugin_dir/lifecycle.so",
      "config": { "file": "$tmp/lifecycle.log" } }
  ],
  "routes": [
    { "match": { "path": "/plaintext" }, "handler": "hello.greet" },
    { "match": { "path": "/pid" }, "handler": "lifecycle.pid" }
  ]
}
EOF
}

# start NAME CONF: runs warren -c CONF in the background and waits, at most 10 s, for its
# --ready-fd report; sets started_pid, started_port and started_log.
start() {
	local fifo=$tmp/$1.ready line ready='' addr='' end=$((SECONDS + 10)) left

	started_log=$tmp/$1.log
	mkfifo "$fifo"
	"$bin" -c "$2" --ready-fd 3 3>"$fifo" >"$started_log" 2>&1 &
	started_pid=$!
	running+=("$started_pid")
	# Both ends block in open() until the other comes: no window for a lost report.
	exec 4<"$fifo"
	while left=$((end - SECONDS)) && [ "$left" -gt 0 ] && IFS= read -r -t "$left" line <&4; do
		case $line in
		"listen "*) [ -n "$addr" ] || addr=${line#listen } ;;
		"ready "*) ready=${line#ready } ;;
		esac
	done
	exec 4<&-
	if [ "$ready" != "$started_pid" ] || [ -z "$addr" ]; then
		echo "$1: $bin -c $2 did not report ready within 10 s; its log:"
		cat "$started_log"
		return 1
	fi
	started_port=${addr##*:}
	grep -o 'running on [a-z_]*' "$started_log" | sort -u | sed 's/^/  event backend: /' || true
}

# show_log: the last lines of the server's log that are not debug chatter.
show_log() {
	echo "warren's log ($started_log), without debug lines:"
	grep -v '^[0-9T:.-]*Z \[[0-9]*\] debug: ' "$started_log" | tail -n 60 || true
}

# stop PID: TERM, at most 10 s to exit, then KILL; returns the exit status. Workers follow
# a master that is gone (PR_SET_PDEATHSIG); any still there 10 s later are killed by pid.
stop() {
	local end=$((SECONDS + 10)) i pid

	workers "$1"
	local -a left=(${workers[@]+"${workers[@]}"})
	kill -TERM "$1" 2>/dev/null || true
	while kill -0 "$1" 2>/dev/null; do
		if [ "$SECONDS" -ge "$end" ]; then
			echo "pid $1 still running 10 s after TERM: killed"
			kill -KILL "$1" 2>/dev/null || true
			break
		fi
		sleep 0.05
	done
	for i in "${!running[@]}"; do
		[ "${running[i]}" = "$1" ] && unset 'running[i]'
	done
	for pid in ${left[@]+"${left[@]}"}; do
		while [ -e "/proc/$pid" ] && [ "$SECONDS" -lt "$end" ]; do
			sleep 0.05
		done
		# Only our worker: the pid may have been reused since.
		if grep -qF "$tmp/" "/proc/$pid/cmdline" 2>/dev/null; then
			echo "worker $pid outlived its master by 10 s: killed"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	wait "$1"
}

# workers MASTER: sets the array workers to the master's live (not zombie) children.
workers() {
	local f pid stat
	local -a pids

	workers=()
	for f in /proc/"$1"/task/*/children; do
		read -r -a pids 2>/dev/null <"$f" || true
		for pid in ${pids[@]+"${pids[@]}"}; do
			IFS= read -r stat 2>/dev/null <"/proc/$pid/stat" || continue
			stat=${stat##*) }
			[ "${stat%% *}" = Z ] || workers+=("$pid")
		done
	done
}

# rss_kb PID: sets rss to the VmRSS of PID in KiB (0 if it is gone), and rss_parts to its
# anonymous and file-backed shares. Read by awk, in one read(): bash's read pushes back what
# it read past a newline with lseek(), and /proc regenerates the file at every seek, so a
# status that changed meanwhile would come back torn. (statm is one line, but its resident
# count is the kernel's approximate one.)
rss_kb() {
	local line

	line=$(awk '$1 ~ /^(VmRSS|RssAnon|RssFile):$/ { v[$1] = $2 }
		END { print v["VmRSS:"] + 0, v["RssAnon:"] + 0, v["RssFile:"] + 0 }' \
		"/proc/$1/status" 2>/dev/null) || true
	read -r rss rss_anon rss_file <<<"${line:-0 0 0}"
	rss_parts="anon $rss_anon, file $rss_file"
}

# fd_count PID: sets fds to how many descriptors PID has open.
fd_count() {
	local -a list=(/proc/"$1"/fd/*)

	fds=${#list[@]}
}

# probe_pid PORT: one request to /pid over a new connection (bash's own /dev/tcp, no fork,
# so that respawn times are not padded by process start-up); sets answered to the pid of
# the worker that answered, or to "" when the answer did not come within 1 s.
probe_pid() {
	local fd reply=''

	answered=
	{ exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 0
	if { printf 'GET /pid HTTP/1.1\r\nHost: load-test\r\nConnection: close\r\n\r\n' \
		>&"$fd"; } 2>/dev/null; then
		IFS= read -r -d '' -t 1 -u "$fd" reply || true
	fi
	exec {fd}<&-
	[[ $reply == "HTTP/1.1 200 "*$'\r\n\r\npid '* ]] || return 0
	reply=${reply##*$'\r\n\r\npid '}
	answered=${reply%% *}
}

# The per-thread count of responses that were not 2xx, which wrk's own summary leaves out
# (it counts only statuses above 399), and one line with every figure the checks need.
cat >"$tmp/count.lua" <<'EOF'
-- count.lua - wrk script: counts non-2xx responses and prints one "RESULT" line at the end.
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	non2xx = 0
end

function response(status, headers, body)
	if status < 200 or status > 299 then
		non2xx = non2xx + 1
	end
end

function done(summary, latency, requests)
	local n = 0
	for _, t in ipairs(threads) do
		n = n + t:get("non2xx")
	end
	local e = summary.errors
	io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d\n", summary.requests,
		summary.duration, e.connect, e.read, e.write, e.timeout, e.status, n,
		latency:percentile(99)))
end
EOF

# forget PID: PID, waited for, needs no stopping any more.
forget() {
	local i

	for i in "${!background[@]}"; do
		[ "${background[i]}" = "$1" ] && unset 'background[i]'
	done
	return 0
}

# wrk_start NAME CONNECTIONS SECONDS PORT: wrk in the background (bounded by timeout(1)),
# its output in $tmp/NAME.wrk; sets wrk_pid.
wrk_start() {
	timeout -k 5 $(($3 + 20)) wrk -t2 -c"$2" -d"$3"s --timeout 5s -s "$tmp/count.lua" \
		"http://127.0.0.1:$4/plaintext" >"$tmp/$1.wrk" 2>&1 &
	wrk_pid=$!
	background+=("$wrk_pid")
}

# wrk_finish NAME: waits for wrk and reads its RESULT line into requests, duration_us,
# e_connect, e_read, e_write, e_timeout, e_status, non2xx, p99_us; prints a summary.
wrk_finish() {
	local status=0 tag=

	requests=
	wait "$wrk_pid" || status=$?
	forget "$wrk_pid"
	read -r tag requests duration_us e_connect e_read e_write e_timeout e_status non2xx \
		p99_us < <(grep '^RESULT ' "$tmp/$1.wrk") || true
	if [ "$status" -ne 0 ] || [ "$tag" != RESULT ]; then
		echo "wrk exited with status $status, without a result; its output:"
		cat "$tmp/$1.wrk"
		return 1
	fi
	echo "  wrk: $requests requests in $(ms $((duration_us / 1000))) s =" \
		"$((requests * 1000000 / duration_us)) req/s; latency p99 $(ms "$p99_us") ms"
	echo "  wrk: socket errors connect $e_connect, read $e_read, write $e_write," \
		"timeout $e_timeout; non-2xx responses $non2xx"
}

# ---- 1. sustained load -------------------------------------------------------------------

# What RSS may gain after warm-up without being a leak: 10% or this, whichever is more. A
# worker keeps as many free 8 KiB buffer blocks as its busiest moment needed, up to 256 (2
# MiB), so a new peak of requests in flight is a step up at any time (steps of 560 KiB were
# seen). A leak of even one small allocation per request gains tens of MiB in a run.
RSS_NOISE_KB=$((256 * 8))

sustained_load() {
	local conf=$tmp/load.json t0 warm i pid ok=0 sample_at growth limit
	local -a pids warm_rss end_rss parts

	server_config "$conf" 2 ''
	start load "$conf" || return 1
	workers "$started_pid"
	pids=(${workers[@]+"${workers[@]}"})
	[ "${#pids[@]}" -eq 2 ] || {
		echo "expected 2 workers, found ${#pids[@]}"
		return 1
	}
	# The first samples once allocations have settled: at 10 s, or halfway on short runs.
	warm=$((load_seconds >= 20 ? 10 : load_seconds / 2))
	echo "  wrk -t2 -c256 for $load_seconds s; worker RSS at $warm s (after warm-up) and at" \
		"$((load_seconds - 1)) s (still under load)"
	now_us
	t0=$now
	wrk_start load 256 "$load_seconds" "$started_port"
	sample_at=$warm
	while :; do
		sleep_until $((t0 + sample_at * 1000000))
		for i in 0 1; do
			rss_kb "${pids[i]}"
			[ "$sample_at" -eq "$warm" ] && warm_rss[i]=$rss
			end_rss[i]=$rss
			parts[i]=$rss_parts
		done
		echo "  RSS at $sample_at s: worker ${pids[0]} ${end_rss[0]} KiB (${parts[0]})," \
			"worker ${pids[1]} ${end_rss[1]} KiB (${parts[1]})"
		[ "$sample_at" -lt $((load_seconds - 1)) ] || break
		sample_at=$((sample_at + 10 < load_seconds - 1 ? sample_at + 10 : load_seconds - 1))
	done
	wrk_finish load || ok=1
	if [ "$ok" -eq 0 ]; then
		[ "$((e_connect + e_read + e_write + e_timeout))" -eq 0 ] || {
			echo "wrk saw socket errors"
			ok=1
		}
		[ "$((non2xx + e_status))" -eq 0 ] || {
			echo "warren answered $non2xx requests with a status other than 2xx"
			ok=1
		}
		[ "$requests" -gt 0 ] || ok=1
	fi
	workers "$started_pid"
	[ "${workers[*]-}" = "${pids[*]}" ] || {
		echo "the workers changed under load: ${pids[*]} before, ${workers[*]-none} after"
		ok=1
	}
	for i in 0 1; do
		if [ "${warm_rss[i]}" -eq 0 ] || [ "${end_rss[i]}" -eq 0 ]; then
			echo "  worker ${pids[i]}: no RSS to compare (it was gone when sampled)"
			ok=1
			continue
		fi
		growth=$((end_rss[i] - warm_rss[i]))
		limit=$((warm_rss[i] / 10 > RSS_NOISE_KB ? warm_rss[i] / 10 : RSS_NOISE_KB))
		echo "  worker ${pids[i]}: RSS ${warm_rss[i]} -> ${end_rss[i]} KiB" \
			"(growth $growth KiB, limit $limit KiB)"
		[ "$growth" -le "$limit" ] || [ "$rss_checked" = no ] || {
			echo "worker ${pids[i]} grew by $growth KiB under steady load"
			ok=1
		}
	done
	pid=$started_pid
	stop "$pid" || {
		echo "warren exited with status $? after TERM"
		ok=1
	}
	[ "$ok" -eq 0 ] || show_log
	return "$ok"
}

# ---- 2. kill -9 under load ---------------------------------------------------------------

KILLS=10
KILL_CONNS=64

kill_storm() {
	local conf=$tmp/kill.json t0 k victim new p pid code ok=0 deadline t_kill
	local max_spawn=0 max_serve=0 spawned=0 served=0 probes bad=0 all_spawn='' all_serve=''
	local all_ready='' max_ready=0 stamp
	local -a before kill_at new_pids

	# recover.max is set far above the storm's 10 deaths in 10 s (the default is 10 in 10 s)
	# so that every respawn is immediate: this measures respawning, not the back-off.
	server_config "$conf" 2 '
  "recover": { "max": 100, "window": 10 },'
	start kill "$conf" || return 1
	workers "$started_pid"
	[ "${#workers[@]}" -eq 2 ] || {
		echo "expected 2 workers, found ${#workers[@]}"
		return 1
	}
	echo "  wrk -t2 -c$KILL_CONNS for $((KILLS + 2)) s; kill -9 of a random worker every" \
		"second from 1 s to $KILLS s"
	now_us
	t0=$now
	wrk_start kill "$KILL_CONNS" $((KILLS + 2)) "$started_port"
	for ((k = 1; k <= KILLS; k++)); do
		sleep_until $((t0 + k * 1000000))
		workers "$started_pid"
		before=(${workers[@]+"${workers[@]}"})
		[ "${#before[@]}" -gt 0 ] || {
			echo "kill $k: the master has no workers"
			ok=1
			continue
		}
		victim=${before[RANDOM % ${#before[@]}]}
		now_us
		t_kill=$now
		deadline=$((t_kill + 1000000))
		kill -KILL "$victim"
		# Respawned: a child that was not there before the kill.
		new=
		while [ -z "$new" ]; do
			workers "$started_pid"
			for p in ${workers[@]+"${workers[@]}"}; do
				[[ " ${before[*]} " == *" $p "* ]] || new=$p
			done
			now_us
			[ "$now" -lt "$deadline" ] || break
		done
		if [ -z "$new" ]; then
			echo "kill $k: no new worker within 1 s of killing $victim"
			ok=1
			continue
		fi
		spawned=$((spawned + 1))
		kill_at+=("$t_kill")
		new_pids+=("$new")
		p=$((now - t_kill))
		all_spawn="$all_spawn $(ms "$p")"
		[ "$p" -le "$max_spawn" ] || max_spawn=$p
		# Ready: the new worker has answered a request on a connection of its own.
		probes=0
		answered=
		while [ "$answered" != "$new" ]; do
			probes=$((probes + 1))
			probe_pid "$started_port"
			now_us
			[ "$now" -lt "$deadline" ] || break
		done
		if [ "$answered" != "$new" ]; then
			echo "kill $k: new worker $new answered none of $probes requests within 1 s"
			ok=1
			continue
		fi
		served=$((served + 1))
		p=$((now - t_kill))
		all_serve="$all_serve $(ms "$p")"
		[ "$p" -le "$max_serve" ] || max_serve=$p
	done
	echo "  kill to new worker pid (ms):$all_spawn"
	# A worker logs "running on BACKEND" (at debug level, with a millisecond timestamp)
	# just before it reports to the master that it accepts: its own readiness, for the
	# record; the checks hold on what clients see.
	for k in "${!new_pids[@]}"; do
		stamp=$(sed -n "s/^\([0-9T:.-]*Z\) \[${new_pids[k]}\] debug: worker [0-9]* running on .*/\1/p" \
			"$started_log" | head -n 1)
		if [ -z "$stamp" ] || ! stamp=$(date -d "$stamp" +%s%6N 2>/dev/null); then
			all_ready="$all_ready ?"
			continue
		fi
		p=$((stamp - kill_at[k]))
		all_ready="$all_ready $(ms "$p")"
		[ "$p" -le "$max_ready" ] || max_ready=$p
	done
	echo "  kill to new worker ready, by its log line (ms):$all_ready (max $(ms "$max_ready") ms)"
	echo "  kill to new worker serving (ms):$all_serve"
	echo "  respawned $spawned of $KILLS, serving $served of $KILLS; max $(ms "$max_spawn") ms" \
		"to respawn, $(ms "$max_serve") ms to serve (bound 1000 ms)"
	[ "$((spawned + served))" -eq $((2 * KILLS)) ] || ok=1
	wrk_finish kill || ok=1
	if [ -n "${requests:-}" ]; then
		bad=$((e_connect + e_read + e_write + e_timeout + non2xx))
		echo "  errors $bad (bound $KILL_CONNS connections x $KILLS kills =" \
			"$((KILL_CONNS * KILLS)))"
		[ "$bad" -le $((KILL_CONNS * KILLS)) ] || {
			echo "more errors than requests that could have been in flight on killed workers"
			ok=1
		}
		[ "$requests" -gt 1000 ] || {
			echo "only $requests requests completed during the storm"
			ok=1
		}
	fi
	# After the storm: every new connection is served.
	bad=0
	for ((k = 1; k <= 50; k++)); do
		code=$(curl -s -o /dev/null -m 5 -H 'Connection: close' -w '%{http_code}' \
			"http://127.0.0.1:$started_port/plaintext") || true
		[ "$code" = 200 ] || bad=$((bad + 1))
	done
	echo "  after the storm: $((50 - bad)) of 50 new connections answered 200"
	[ "$bad" -eq 0 ] || ok=1
	workers "$started_pid"
	[ "${#workers[@]}" -eq 2 ] || {
		echo "the master has ${#workers[@]} workers after the storm, not 2"
		ok=1
	}
	pid=$started_pid
	stop "$pid" || {
		echo "warren exited with status $? after TERM"
		ok=1
	}
	[ "$ok" -eq 0 ] || show_log
	return "$ok"
}

# ---- 3. slow clients ---------------------------------------------------------------------

HEADER_TIMEOUT=5
SLOW_CONNS=400
RSS_BOUND_KB=$((64 * 1024))

slow_clients() {
	local conf=$tmp/slow.json worker base_fds slow_pid status=0 code ok=0 deadline
	local sent=0 good=0 max_rss=0 max_fds=0 total sec closed connected peak=0 last_closed=0
	local last_sec=0 ended

	server_config "$conf" 1 "
  \"http\": { \"header_timeout\": $HEADER_TIMEOUT },"
	start slow "$conf" || return 1
	workers "$started_pid"
	[ "${#workers[@]}" -eq 1 ] || {
		echo "expected 1 worker, found ${#workers[@]}"
		return 1
	}
	worker=${workers[0]}
	fd_count "$worker"
	base_fds=$fds
	# Slowloris: 400 connections at 200 a second, each sending a header line of up to 24
	# bytes every 2 s and never ending the head. The follow-ups come faster than
	# header_timeout, which counts from the first byte and so must close every one of them;
	# slowhttptest stops early once no connection is left, well before its 20 s.
	echo "  slowhttptest -H -c $SLOW_CONNS -r 200 -i 2 -x 24 against workers: 1," \
		"header_timeout $HEADER_TIMEOUT s; worker $worker has $base_fds descriptors before"
	(cd "$tmp" && exec timeout -k 5 40 slowhttptest -c "$SLOW_CONNS" -H -i 2 -r 200 -t GET \
		-u "http://127.0.0.1:$started_port/plaintext" -x 24 -p 3 -l 20 -g -o "$tmp/slow") \
		>"$tmp/slow.out" 2>&1 &
	slow_pid=$!
	background+=("$slow_pid")
	# A normal client meanwhile: one request every 0.3 s while the attack lasts.
	while kill -0 "$slow_pid" 2>/dev/null && [ "$sent" -lt 100 ]; do
		code=$(curl -s -o /dev/null -m 2 "http://127.0.0.1:$started_port/plaintext" \
			-w '%{http_code}') || true
		sent=$((sent + 1))
		[ "$code" = 200 ] && good=$((good + 1))
		rss_kb "$started_pid"
		total=$rss
		rss_kb "$worker"
		total=$((total + rss))
		[ "$total" -le "$max_rss" ] || max_rss=$total
		fd_count "$worker"
		[ "$fds" -le "$max_fds" ] || max_fds=$fds
		sleep 0.3
	done
	wait "$slow_pid" || status=$?
	forget "$slow_pid"
	echo "  normal client: $good of $sent requests answered 200 during the attack"
	echo "  master + worker RSS peak $max_rss KiB (bound $RSS_BOUND_KB KiB);" \
		"worker descriptors peak $max_fds"
	[ "$sent" -ge 10 ] || {
		echo "the attack lasted for only $sent requests of the normal client"
		ok=1
	}
	[ "$good" -eq "$sent" ] || {
		echo "the normal client was refused or kept waiting $((sent - good)) times"
		ok=1
	}
	[ "$max_rss" -lt "$RSS_BOUND_KB" ] || [ "$rss_checked" = no ] || {
		echo "warren's RSS went above $RSS_BOUND_KB KiB"
		ok=1
	}
	# slowhttptest's per-second CSV: Seconds,Closed,Pending,Connected,Service Available.
	while IFS=$',\r' read -r sec closed _ connected _; do
		[[ $sec =~ ^[0-9]+$ ]] || continue
		[ "$connected" -le "$peak" ] || peak=$connected
		last_sec=$sec last_closed=$closed
	done < <(cat "$tmp/slow.csv" 2>/dev/null || true)
	ended=$(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$tmp/slow.out" |
		sed -n 's/^Exit status: */exit status: /p; s/^Test ended on /ended on /p' |
		paste -sd ',' - | sed 's/,/, /g')
	echo "  slowhttptest: peak $peak connections open, $last_closed closed by its sample at" \
		"$last_sec s; $ended"
	[ "$status" -eq 0 ] || {
		echo "slowhttptest exited with status $status"
		ok=1
	}
	[ "$peak" -ge $((SLOW_CONNS / 2)) ] || {
		echo "the attack never held even half of its $SLOW_CONNS connections open"
		ok=1
	}
	[[ $ended == *"No open connections left"* ]] || {
		echo "warren did not close every slow connection before slowhttptest's 20 s were up"
		ok=1
	}
	# Afterwards every slow connection is gone from the worker.
	deadline=$((SECONDS + HEADER_TIMEOUT + 5))
	while fd_count "$worker" && [ "$fds" -gt "$base_fds" ] && [ "$SECONDS" -lt "$deadline" ]; do
		sleep 0.1
	done
	echo "  worker descriptors after the attack: $fds (before: $base_fds)"
	[ "$fds" -le "$base_fds" ] || {
		echo "the worker still holds $((fds - base_fds)) more descriptors than before"
		ls -l "/proc/$worker/fd"
		ok=1
	}
	workers "$started_pid"
	[ "${workers[*]-}" = "$worker" ] || {
		echo "the worker changed during the attack: $worker before, ${workers[*]-none} after"
		ok=1
	}
	stop "$started_pid" || {
		echo "warren exited with status $? after TERM"
		ok=1
	}
	[ "$ok" -eq 0 ] || {
		sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$tmp/slow.out" | tail -n 20
		show_log
	}
	return "$ok"
}

for f in "$bin" "$plugin_dir/hello.so" "$plugin_dir/lifecycle.so"; do
	[ -e "$f" ] || {
		echo "load-test: no $f (run make all tests first)"
		exit 1
	}
done
# AddressSanitizer keeps freed memory in quarantine and maps shadow memory, so a sanitizer
# build's RSS says nothing about leaks or bounds: there the RSS figures are only printed.
rss_checked=yes
if grep -qa __asan_init "$bin"; then
	rss_checked=no
	echo "warren is built with sanitizers: RSS is measured but not checked"
fi

run_check "$load_seconds s of wrk -c256: no errors, no worker RSS growth" sustained_load
run_check "kill -9 of a worker every second under load: prompt respawn, bounded errors" \
	kill_storm
run_check "slowloris against one worker: normal clients served, every slow connection closed" \
	slow_clients

echo "$(((checks - failures) * 100 / checks))%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" -eq 0 ]
