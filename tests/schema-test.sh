#!/usr/bin/env bash
# tests/schema-test.sh - docs/warren.schema.json against warren: the shipped configs under
# conf/ validate, a config with every key set validates and passes warren -t, and configs
# with one mistake each are refused by both the schema and warren -t.
#
# Needs a python3 with the jsonschema module (WARREN_SCHEMA_PYTHON, which configure finds;
# Debian: python3-jsonschema); without it the test is skipped (exit status 77). WARREN_BIN
# (build/warren) and WARREN_SRCDIR (.) as for the other suites.
set -u

src=$(cd "${WARREN_SRCDIR:-.}" && pwd) || exit 1
py=${WARREN_SCHEMA_PYTHON:-}
bin=${WARREN_BIN:-$src/build/warren}

if [ -z "$py" ] || ! "$py" -c 'import jsonschema' 2>/dev/null; then
	echo "skipped: no python3 with the jsonschema module (apt-get install python3-jsonschema)"
	exit 77
fi

exec "$py" - "$src" "$bin" <<'PYTHON'
import glob
import json
import os
import subprocess
import sys
import tempfile

import jsonschema

src, warren = sys.argv[1], sys.argv[2]
checks = failures = 0


def check(name, ok, detail=""):
    global checks, failures
    checks += 1
    if ok:
        print("PASS  " + name)
    else:
        failures += 1
        print("FAIL  " + name + (": " + detail if detail else ""))


def schema_errors(validator, text):
    return [e.message for e in validator.iter_errors(json.loads(text))]


def warren_test(text):
    """warren -t on @text, from a file in a scratch directory: (accepted, message)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "c.json")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([warren, "-t", "-c", path], capture_output=True, text=True)
        return r.returncode == 0, r.stderr.strip()


with open(os.path.join(src, "docs/warren.schema.json")) as f:
    schema = json.load(f)
try:
    jsonschema.Draft202012Validator.check_schema(schema)
    check("docs/warren.schema.json is a valid draft 2020-12 schema", True)
except jsonschema.SchemaError as e:
    check("docs/warren.schema.json is a valid draft 2020-12 schema", False, e.message)
validator = jsonschema.Draft202012Validator(schema)

confs = sorted(glob.glob(os.path.join(src, "conf/*.json")))
check("conf/ holds example configs", len(confs) > 0)
for conf in confs:
    with open(conf) as f:
        errors = schema_errors(validator, f.read())
    check("%s validates" % os.path.relpath(conf, src), not errors, "; ".join(errors))

# Every key the schema knows, set; warren must take it too.
everything = json.dumps({
    "listen": [{"address": "127.0.0.1:0", "reuseport": True, "backlog": 16,
                "defer_accept": True}, "[::1]:0", "unix:w.sock"],
    "workers": 2, "cpu_affinity": "auto", "event": "epoll", "log_level": "debug",
    "log_file": "w.log", "pid_file": "w.pid", "shutdown_timeout": 0.5,
    "recover": {"max": 3, "window": 2.5},
    "http": {"max_body_size": 0, "max_header_size": 1024, "keepalive_timeout": 0,
             "header_timeout": 1, "body_timeout": 2, "send_timeout": 3,
             "handler_timeout": 4},
    "modules": [{"name": "echo", "config": {}}],
    "routes": [{"match": {"path": "/e/*", "method": ["GET", "POST"]}, "handler": "echo.echo",
                "config": {}},
               {"match": {"method": "PUT"}, "handler": "echo.echo"}],
    "offload_threads": 1, "worker_connections": 1, "watchdog": {"warn": 0, "kill": 0},
})
errors = schema_errors(validator, everything)
check("a config with every key validates", not errors, "; ".join(errors))
ok, msg = warren_test(everything)
check("warren -t takes the config with every key", ok, msg)

# One mistake each: the schema and warren must both refuse it.
bad = [
    '{"workers": 0}',
    '{"workers": "many"}',
    '{"http": {"max_body": 1}}',
    '{"http": {"header_timeout": 0}}',
    '{"http": {"max_header_size": 512}}',
    '{"watchdog": {"warn": -1}}',
    '{"event": "kqueue"}',
    '{"cpu_affinity": true}',
    '{"log_file": ""}',
    '{"listen": []}',
    '{"listen": ["127.0.0.1"]}',
    '{"listen": [{"address": "127.0.0.1:1", "backlog": 0}]}',
    '{"listen": [{"reuseport": true}]}',
    '{"modules": [{"name": "Hello"}]}',
    '{"modules": [{"path": "x.so"}]}',
    '{"routes": [{"match": {"path": "/x"}}]}',
    '{"routes": [{"handler": "echo.echo", "match": {"method": []}}]}',
    '{"routes": [{"handler": "echo.echo", "match": {"method": "get"}}]}',
    '{"routes": [{"handler": "echo.echo", "match": {"path": "x"}}]}',
    '{"routes": [{"handler": "echo.echo", "config": []}]}',
]
for text in bad:
    check("the schema refuses %s" % text, bool(schema_errors(validator, text)))
    ok, msg = warren_test(text)
    check("warren -t refuses %s" % text, not ok)

print("%d%%: Checks: %d, Failures: %d, Errors: 0" % ((checks - failures) * 100 // checks, checks,
                                                   failures))
sys.exit(1 if failures else 0)
PYTHON
