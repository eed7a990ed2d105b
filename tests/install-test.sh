#!/usr/bin/env bash
# tests/install-test.sh - the build as a user drives it: a plugin linked in with configure
# --with-static-module answers exactly as its .so does, make install gives a prefix that
# plugins build against with pkg-config alone, and a plugin made by the installed
# `warren new-plugin` builds with its own Makefile and passes its own tests (the test kit)
# against the installed warren.
#
# make check runs this through run-suites.sh, so it ends with a Check-style summary line.
# It copies the sources from WARREN_SRCDIR into a temporary directory and builds them there
# with WARREN_CC and WARREN_CONFIGURE_FLAGS; WARREN_BIN and WARREN_PLUGIN_DIR are the build
# under test, whose hello.so the built-in hello is compared with. Everything it starts is
# stopped by pid, and the temporary directory is removed, however it ends.
set -u -o pipefail

src=$(cd "${WARREN_SRCDIR:-.}" && pwd) || exit 1
bin=${WARREN_BIN:-$src/build/warren}
plugin_dir=${WARREN_PLUGIN_DIR:-$src/build/plugins}
cc=${WARREN_CC:-cc}
read -r -a configure_flags <<<"${WARREN_CONFIGURE_FLAGS:-}"
version=$(sed -n 's/^#[[:space:]]*define[[:space:]]*WARREN_VERSION[[:space:]]*"\(.*\)".*/\1/p' \
	"$src/include/warren/version.h")

# The builds below are make runs of their own: nothing of the calling make may leak in.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES DESTDIR PREFIX

tmp=$(mktemp -d "${TMPDIR:-/tmp}/warren-install-test.XXXXXX") || exit 1
copy=$tmp/src
prefix=$tmp/prefix
stage=$tmp/stage
running=()
checks=0 failures=0 built=no

cleanup() {
	local pid
	for pid in ${running[@]+"${running[@]}"}; do
		stop "$pid" >/dev/null 2>&1
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

# quietly LOG CMD...: runs CMD with its output in LOG, shown only if CMD fails.
quietly() {
	local log=$1
	shift
	if ! "$@" >"$log" 2>&1; then
		echo "failed: $*"
		tail -n 40 "$log"
		return 1
	fi
}

# start NAME BIN CONF: runs BIN -c CONF in the background and waits, at most 10 s, for its
# --ready-fd report; sets started_pid and started_addr (the first listener's host:port).
start() {
	local name=$1 fifo=$tmp/$1.ready line ready='' end=$((SECONDS + 10)) left
	started_addr=
	mkfifo "$fifo" || return 1
	"$2" -c "$3" --ready-fd 3 3>"$fifo" >"$tmp/$name.log" 2>&1 &
	started_pid=$!
	running+=("$started_pid")
	# Both ends block in open() until the other comes: no window for a lost report.
	exec 4<"$fifo"
	while left=$((end - SECONDS)) && [ "$left" -gt 0 ] && IFS= read -r -t "$left" line <&4; do
		case $line in
		"listen "*) [ -n "$started_addr" ] || started_addr=${line#listen } ;;
		"ready "*) ready=${line#ready } ;;
		esac
	done
	exec 4<&-
	if [ "$ready" != "$started_pid" ] || [ -z "$started_addr" ]; then
		echo "$name: $2 -c $3 did not report ready within 10 s; its log:"
		cat "$tmp/$name.log"
		return 1
	fi
}

# stop PID: TERM, at most 10 s to exit, then KILL; returns the exit status.
stop() {
	local end=$((SECONDS + 10)) i
	kill -TERM "$1" 2>/dev/null
	while kill -0 "$1" 2>/dev/null; do
		if [ "$SECONDS" -ge "$end" ]; then
			echo "pid $1 still running 10 s after TERM: killed"
			kill -KILL "$1" 2>/dev/null
			break
		fi
		sleep 0.05
	done
	for i in "${!running[@]}"; do
		[ "${running[i]}" = "$1" ] && unset 'running[i]'
	done
	wait "$1"
}

# http ADDR REQUEST OUT: sends REQUEST (printf %b escapes) over a new connection to
# ADDR (host:port) and saves all the server sends back until it closes, within 10 s.
http() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	timeout 10 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}" && printf "%b" "$2" >&3 && cat <&3' \
		http "$1" "$2" >"$3"
}

# get ADDR PATH OUT: a GET of PATH that closes the connection.
get() {
	http "$1" "GET $2 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n" "$3"
}

# has FILE TEXT: whether FILE contains TEXT (newlines and all); says what it holds if not.
has() {
	local content

	content=$(cat "$1" && echo .) && content=${content%.}
	[[ $content == *"$2"* ]] && return 0
	echo "expected \"$2\" in $1, which holds:"
	cat -A "$1" | head -n 20
	return 1
}

configure_copy() {
	(cd "$copy" && ./configure "$@")
}

# refused EXPECTED ARGS...: configure ARGS must fail with EXPECTED in its message.
refused() {
	local expected=$1 out
	shift
	out=$(configure_copy "$@" 2>&1 >/dev/null) && {
		echo "configure $* succeeded"
		return 1
	}
	[[ $out == *"$expected"* ]] && return 0
	echo "configure $*: expected \"$expected\", got \"$out\""
	return 1
}

configure_refuses_bad_dirs() {
	local ok=0

	# Directories outside plugins/, named relative to the tree as a user would.
	(cd "$copy" && mkdir -p bad/empty bad/nomod bad/two bad/echo) || return 1
	echo 'int nothing_here;' >"$copy/bad/nomod/a.c"
	printf 'WARREN_MODULE(one, .version = "1");\n' >"$copy/bad/two/one.c"
	printf 'WARREN_MODULE(two, .version = "1");\n' >"$copy/bad/two/two.c"
	printf 'WARREN_MODULE(echo, .version = "1");\n' >"$copy/bad/echo/echo.c"
	refused "--with-static-module=nosuch: no directory plugins/nosuch (plugins here:" \
		--with-static-module=nosuch || ok=1
	refused "bad/empty has no .c files" --with-static-module=bad/empty || ok=1
	refused "no WARREN_MODULE(name, ...) at the start of a line in bad/nomod/*.c" \
		--with-static-module=bad/nomod || ok=1
	refused "defines more than one module (one at bad/two/one.c:1, two at bad/two/two.c:1)" \
		--with-static-module=bad/two/ || ok=1
	refused "module \"echo\" is already built in, from modules/echo" \
		--with-static-module=./bad/echo || ok=1
	refused "module \"hello\" is already built in, from plugins/hello" \
		--with-static-module=plugins/hello --with-static-module=./plugins/hello/ || ok=1
	refused "make needs a directory name" --with-static-module="bad/a b" || ok=1
	rm -rf "$copy/bad"
	return "$ok"
}

static_build() {
	local line

	quietly "$tmp/configure.log" configure_copy --cc="$cc" --prefix="$prefix" \
		--with-static-module=plugins/hello ${configure_flags[@]+"${configure_flags[@]}"} || return 1
	quietly "$tmp/make.log" make -C "$copy" -j"$(nproc)" || return 1
	built=yes
	"$copy/build/warren" --version >"$tmp/version" || return 1
	line=$(sed -n 2p "$tmp/version")
	[[ $line == "built-in modules:"* && "${line#*:} " == *" hello "* ]] || {
		echo "warren --version does not list hello as built in:"
		cat "$tmp/version"
		return 1
	}
	# The same source still builds as a plugin, for configs that load it by path.
	[ -f "$copy/build/plugins/hello.so" ] || {
		echo "no build/plugins/hello.so"
		return 1
	}
}

make_notices_changed_plugin_dir() {
	local ok=0

	[ "$built" = yes ] || return 1
	cp "$copy/plugins/hello/hello.c" "$tmp/hello.c.orig" || return 1
	echo 'int hello_extra;' >"$copy/plugins/hello/extra.c"
	make -C "$copy" >"$tmp/stale.log" 2>&1 && ok=1
	has "$tmp/stale.log" "plugins/hello: its .c files changed since configure ran" || ok=1
	rm -f "$copy/plugins/hello/extra.c"
	sed -i 's/^WARREN_MODULE(hello,/WARREN_MODULE(hola,/' "$copy/plugins/hello/hello.c"
	make -C "$copy" >"$tmp/stale.log" 2>&1 && ok=1
	has "$tmp/stale.log" "plugins/hello no longer defines module \"hello\" (now: hola)" || ok=1
	cp "$tmp/hello.c.orig" "$copy/plugins/hello/hello.c" || return 1
	quietly "$tmp/make.log" make -C "$copy" || return 1
	return "$ok"
}

# hello_config FILE MODULE: a config that serves the hello module MODULE declares.
hello_config() {
	cat >"$1" <<EOF
{
  "listen": ["127.0.0.1:0"],
  "workers": 1,
  "modules": [$2],
  "routes": [
    { "match": { "path": "/hello" }, "handler": "hello.greet" },
    { "match": { "path": "/custom" }, "handler": "hello.greet",
      "config": { "text": "made to order\\n", "status": 201, "content_type": "text/x-test" } }
  ]
}
EOF
}

builtin_answers_like_plugin() {
	local how req n status ok=0
	local head='HTTP/1.1\r\nHost: test\r\n' last='Connection: close\r\n\r\n'
	# One at a time, then three pipelined on one connection, and what the router answers.
	local -a requests=(
		"GET /hello $head$last"
		"GET /custom $head$last"
		"HEAD /hello $head$last"
		"GET /hello $head\r\nGET /custom $head\r\nGET /hello $head$last"
		"GET /nowhere $head$last"
	)

	[ "$built" = yes ] || return 1
	# Only the modules entry differs: a path to the .so, or none for the built-in.
	hello_config "$tmp/plugin.json" "{ \"name\": \"hello\", \"path\": \"$plugin_dir/hello.so\",
      \"config\": { \"text\": \"same either way\\n\" } }"
	hello_config "$tmp/builtin.json" '{ "name": "hello",
      "config": { "text": "same either way\n" } }'
	for how in plugin builtin; do
		if [ "$how" = plugin ]; then
			start plugin "$bin" "$tmp/plugin.json" || return 1
		else
			start builtin "$copy/build/warren" "$tmp/builtin.json" || return 1
		fi
		n=0
		for req in "${requests[@]}"; do
			n=$((n + 1))
			http "$started_addr" "$req" "$tmp/$how.$n" || {
				echo "$how: request $n got no answer"
				ok=1
			}
		done
		stop "$started_pid"
		status=$?
		[ "$status" -eq 0 ] || {
			echo "$how: warren exited with status $status after TERM"
			ok=1
		}
	done
	has "$tmp/plugin.1" $'HTTP/1.1 200 OK\r\n' || ok=1
	has "$tmp/plugin.1" 'same either way' || ok=1
	has "$tmp/plugin.2" $'HTTP/1.1 201 Created\r\n' || ok=1
	for ((n = 1; n <= ${#requests[@]}; n++)); do
		# Date is the only header allowed to differ.
		LC_ALL=C sed -i '/^Date: /d' "$tmp/plugin.$n" "$tmp/builtin.$n"
		cmp "$tmp/plugin.$n" "$tmp/builtin.$n" >/dev/null && continue
		echo "request $n: the built-in answered otherwise than the plugin:"
		diff <(cat -A "$tmp/plugin.$n") <(cat -A "$tmp/builtin.$n")
		ok=1
	done
	return "$ok"
}

# The plugin a user writes outside the tree, built with nothing but the installed files.
write_outside_plugin() {
	mkdir -p "$tmp/outside" || return 1
	cat >"$tmp/outside/outside.c" <<'EOF'
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <warren/module.h>

static int say_configure(const json_t *config, void *module_data, void **route_data,
			 struct warren_error *err)
{
	const char *text = "built outside\n";
	json_error_t jerr;

	(void)module_data;
	if (json_unpack_ex((json_t *)config, &jerr, 0, "{s?s}", "text", &text) < 0) {
		warren_error_set(err, "%s", jerr.text);
		return -EINVAL;
	}
	*route_data = strdup(text);
	return *route_data ? 0 : -ENOMEM;
}

static int say(struct warren_request *r, void *route_data)
{
	const char *text = route_data;

	if (warren_resp_header(r, "Content-Type", "text/plain") < 0 ||
	    warren_resp_body(r, text, strlen(text)) < 0)
		return -ENOMEM;
	return WARREN_DONE;
}

static const struct warren_handler outside_handlers[] = {
	{.name = "say", .handle = say, .configure = say_configure, .release = free},
	{.name = NULL},
};

WARREN_MODULE(outside, .version = "1.0", .handlers = outside_handlers);
EOF
}

# build_outside: compiles outside.c into outside.so with the flags pkg-config gives, in a
# directory with no headers of its own; extra pkg-config options come as arguments.
build_outside() {
	local cflags

	cflags=$(pkg-config "$@" --cflags warren) || return 1
	# shellcheck disable=SC2086 # cflags is a list of words
	(cd "$tmp/outside" && env -u CPATH -u C_INCLUDE_PATH \
		$cc $cflags -shared -fPIC -o outside.so outside.c)
}

staged_install() {
	local f ok=0

	[ "$built" = yes ] || return 1
	quietly "$tmp/install.log" make -C "$copy" install DESTDIR="$stage" || return 1
	for f in bin/warren include/warren/module.h include/warren/version.h \
		include/warren/test.h lib/libwarren-test.a lib/pkgconfig/warren-test.pc \
		lib/pkgconfig/warren.pc lib/warren/plugins/counter.so; do
		[ -f "$stage$prefix/$f" ] || {
			echo "make install DESTDIR=$stage did not install $stage$prefix/$f"
			ok=1
		}
	done
	[ -x "$stage$prefix/bin/warren" ] || ok=1
	# hello is in the binary: its .so would only be a second copy.
	[ ! -e "$stage$prefix/lib/warren/plugins/hello.so" ] || {
		echo "hello.so installed although hello is built in"
		ok=1
	}
	[ ! -e "$prefix" ] || {
		echo "make install DESTDIR=... wrote into $prefix"
		ok=1
	}
	# The .pc names where the files will be, not where DESTDIR put them.
	has "$stage$prefix/lib/pkgconfig/warren.pc" "prefix=$prefix"$'\n' || ok=1
	has "$stage$prefix/lib/pkgconfig/warren.pc" "Version: $version"$'\n' || ok=1
	has "$stage$prefix/lib/pkgconfig/warren-test.pc" "prefix=$prefix"$'\n' || ok=1
	# The kit runs the installed warren unless told otherwise: the real prefix, not DESTDIR.
	grep -q "$prefix/bin/warren" "$stage$prefix/lib/libwarren-test.a" || {
		echo "libwarren-test.a does not name $prefix/bin/warren"
		ok=1
	}
	# Building against the staged files: pkg-config takes the prefix from where the .pc is.
	write_outside_plugin || return 1
	PKG_CONFIG_PATH=$stage$prefix/lib/pkgconfig build_outside --define-prefix || {
		echo "cannot build a plugin against the staged install"
		ok=1
	}
	rm -f "$tmp/outside/outside.so"
	return "$ok"
}

plugin_built_against_install() {
	local got ok=0

	[ "$built" = yes ] || return 1
	quietly "$tmp/install.log" make -C "$copy" install || return 1
	export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
	got=$(pkg-config --modversion warren) || return 1
	[ "$got" = "$version" ] || {
		echo "pkg-config --modversion warren: $got, not $version"
		ok=1
	}
	build_outside || {
		echo "cannot build a plugin with cc \$(pkg-config --cflags warren)"
		return 1
	}
	cat >"$tmp/installed.json" <<EOF
{
  "listen": ["127.0.0.1:0"],
  "workers": 1,
  "modules": [
    { "name": "outside", "path": "$tmp/outside/outside.so" },
    { "name": "counter", "path": "$(pkg-config --variable=plugindir warren)/counter.so" }
  ],
  "routes": [
    { "match": { "path": "/outside" }, "handler": "outside.say",
      "config": { "text": "hello from outside the tree\n" } },
    { "match": { "path": "/count" }, "handler": "counter.count" },
    { "match": { "path": "/hello" }, "handler": "hello.greet" }
  ]
}
EOF
	start installed "$prefix/bin/warren" "$tmp/installed.json" || return 1
	get "$started_addr" /outside "$tmp/outside.out" && has "$tmp/outside.out" \
		$'HTTP/1.1 200 OK\r\n' && has "$tmp/outside.out" 'hello from outside the tree' || ok=1
	get "$started_addr" /count "$tmp/count.out" && has "$tmp/count.out" $'\r\n\r\n1\n' || ok=1
	get "$started_addr" /hello "$tmp/hello.out" && has "$tmp/hello.out" 'Hello, World!' || ok=1
	stop "$started_pid" || ok=1
	return "$ok"
}

# new-plugin NAME... : the installed warren new-plugin, output in $tmp/new-plugin.out.
new_plugin() {
	(cd "$tmp" && "$prefix/bin/warren" new-plugin "$@") >"$tmp/new-plugin.out" 2>&1
}

# make_demo TARGET...: the generated Makefile, as a plugin author runs it, against the install
# only: no WARREN_BIN or WARREN_PLUGIN_DIR from the build under test.
make_demo() {
	env -u WARREN_BIN -u WARREN_PLUGIN_DIR PKG_CONFIG_PATH="$prefix/lib/pkgconfig" \
		make -C "$tmp/demo" CC="$cc" CFLAGS="-O2 -g -Werror" "$@"
}

new_plugin_builds_and_passes() {
	local ok=0

	[ "$built" = yes ] && [ -x "$prefix/bin/warren" ] || return 1
	new_plugin demo || {
		echo "warren new-plugin demo failed:"
		cat "$tmp/new-plugin.out"
		return 1
	}
	has "$tmp/new-plugin.out" "wrote demo/" || ok=1
	for f in demo.c test_demo.c demo.json Makefile README.md .gitignore; do
		[ -f "$tmp/demo/$f" ] || {
			echo "warren new-plugin demo wrote no demo/$f"
			ok=1
		}
	done
	grep -q skeleton "$tmp"/demo/* && {
		echo "the template's name is left in:"
		grep -n skeleton "$tmp"/demo/*
		ok=1
	}
	# It overwrites nothing, and a bad name is refused before anything is written.
	new_plugin demo && ok=1
	has "$tmp/new-plugin.out" "demo already exists" || ok=1
	new_plugin my-demo && ok=1
	has "$tmp/new-plugin.out" \
		"\"my-demo\": has '-' at position 3: a C identifier has only a-z, 0-9 and _" || ok=1
	[ ! -e "$tmp/my-demo" ] || ok=1

	quietly "$tmp/demo-make.log" make_demo || return 1
	quietly "$tmp/demo-t.log" "$prefix/bin/warren" -t -c "$tmp/demo/demo.json" || ok=1
	# The generated tests find Check the way a plugin author's machine has it: pkg-config.
	pkg-config --exists check || {
		echo "no check.pc for pkg-config: the generated tests were not run"
		return "$ok"
	}
	quietly "$tmp/demo-check.log" make_demo check || return 1
	has "$tmp/demo-check.log" "100%: Checks: 3, Failures: 0, Errors: 0" || ok=1
	# The generated tests can fail: a wrong expectation must.
	sed -i 's/"Hello from demo\\n"/"Hello from elsewhere\\n"/' "$tmp/demo/test_demo.c"
	make_demo check >"$tmp/demo-fail.log" 2>&1 && {
		echo "make check passed with a wrong expectation in test_demo.c"
		ok=1
	}
	has "$tmp/demo-fail.log" "Failures: 1" || ok=1
	return "$ok"
}

echo "copying the sources to $copy"
mkdir -p "$copy" &&
	cp -R "$src/configure" "$src/Makefile.in" "$src/warren.pc.in" "$src/warren-test.pc.in" \
		"$src/include" "$src/core" "$src/modules" "$src/plugins" "$src/testkit" \
		"$src/templates" "$copy/" || exit 1

run_check "configure refuses a bad --with-static-module" configure_refuses_bad_dirs
run_check "configure --with-static-module=plugins/hello builds hello in" static_build
run_check "make refuses a plugin directory changed since configure" make_notices_changed_plugin_dir
run_check "built-in hello answers byte for byte as hello.so" builtin_answers_like_plugin
run_check "make install DESTDIR= stages the files for the real prefix" staged_install
run_check "a plugin built with pkg-config loads into the installed warren" \
	plugin_built_against_install
run_check "warren new-plugin makes a plugin that passes its tests against the install" \
	new_plugin_builds_and_passes

echo "$(((checks - failures) * 100 / checks))%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" -eq 0 ]
