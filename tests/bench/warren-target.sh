#!/bin/sh
# tests/bench/warren-target.sh - starts warren for the benchmark harness: W workers on
# 127.0.0.1:PORT answering GET /plaintext with "Hello, World!" from the hello plugin.
# Usage: tests/bench/warren-target.sh W PORT [EVENT]   (works from any directory)
# EVENT is the config's "event" (auto, io_uring or epoll; auto when absent).
set -eu

usage() {
	echo "usage: $0 WORKERS PORT" >&2
	exit 2
}

[ $# -eq 2 ] || [ $# -eq 3 ] || usage
event=${3:-auto}
case $event in auto | io_uring | epoll) ;; *) usage ;; esac
case $1 in '' | *[!0-9]*) usage ;; esac
case $2 in '' | *[!0-9]*) usage ;; esac
workers=$1
port=$2

repo=$(cd "$(dirname "$0")/../.." && pwd -P)
if [ ! -x "$repo/build/warren" ] || [ ! -f "$repo/build/plugins/hello.so" ]; then
	echo "$0: build warren first (make -C $repo)" >&2
	exit 1
fi
# The repository path goes into a JSON string.
repo_json=$(printf '%s' "$repo" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')

# The config must outlive this script: warren re-reads it on SIGHUP.
dir=$(mktemp -d "${TMPDIR:-/tmp}/warren-bench.XXXXXX")
cat >"$dir/warren.json" <<JSON
{
	"listen": ["127.0.0.1:$port"],
	"workers": $workers,
	"event": "$event",
	"log_level": "warn",
	"modules": [{ "name": "hello", "path": "$repo_json/build/plugins/hello.so" }],
	"routes": [
		{
			"match": { "path": "/plaintext" },
			"handler": "hello.greet",
			"config": { "text": "Hello, World!" }
		}
	]
}
JSON

exec "$repo/build/warren" -c "$dir/warren.json"
