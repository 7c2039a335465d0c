#!/bin/sh
# t/run.sh: what `make test` runs. Starts Redis, MariaDB and Kafka on test
# ports in a fresh run/test/ directory, initialises them with the CLI, runs
# the C unit tests and the Test::Nginx suite, and always stops every service
# it started, also on failure or Ctrl-C. Exits non-zero on any failure.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
export SECKILL_RUN="$top/run/test"
export SECKILL_HTTP_PORT="${SECKILL_TEST_HTTP_PORT:-18080}"
export SECKILL_MYSQL_PORT="${SECKILL_TEST_MYSQL_PORT:-13306}"
export SECKILL_REDIS_PORT="${SECKILL_TEST_REDIS_PORT:-16379}"
export SECKILL_KAFKA_PORT="${SECKILL_TEST_KAFKA_PORT:-19092}"
export SECKILL_KAFKA_CONTROLLER_PORT="${SECKILL_TEST_KAFKA_CONTROLLER_PORT:-19093}"
. "$top/deploy/lib.sh"

d=$top/deploy

stop_all() {
    status=$?
    trap - EXIT INT TERM
    "$d/stack.sh" down || true
    rm -rf "$lock"
    # Any nginx a test file left behind in the servroot.
    if [ -s "$SECKILL_RUN/servroot/logs/nginx.pid" ]; then
        kill -QUIT "$(cat "$SECKILL_RUN/servroot/logs/nginx.pid")" 2>/dev/null || true
    fi
    exit "$status"
}

# Two `make test` in one checkout would share these ports and this
# directory: the second waits for the first.
# (A lock directory holding the owner's pid, not flock: the services we
# start would inherit a flock'ed descriptor and hold the lock after us.)
lock=$top/run/test.lock
mkdir -p "$top/run"
until mkdir "$lock" 2>/dev/null; do
    owner=$(cat "$lock/pid" 2>/dev/null || true)
    if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
        rm -rf "$lock"          # its owner died without cleaning up
        continue
    fi
    echo "another 'make test' (pid ${owner:-?}) is running in this checkout; waiting"
    sleep 5
done
echo $$ >"$lock/pid"

# A previous run killed hard may have left services behind: stop them first.
"$d/stack.sh" down >/dev/null 2>&1 || true
rm -rf "$SECKILL_RUN"
mkdir -p "$SECKILL_LOG"
make_secrets
trap stop_all EXIT
trap 'exit 130' INT TERM

"$d/redis.sh" start
"$d/mariadb.sh" start
"$d/kafka.sh" start
render_conf "$top/conf/consumer.conf" "$SECKILL_RUN/conf/consumer.conf"
"$SECKILL_BIN/seckill" -c "$SECKILL_RUN/conf/consumer.conf" init
# The whole pipeline for the end-to-end tests: consumer and nginx on the
# test HTTP port (Test::Nginx's own nginx uses TEST_NGINX_PORT).
"$d/consumer.sh" start
"$d/nginx.sh" start

failed=""

echo "== C unit tests"
make -s -C "$top/consumer" BUILD="$top/build" test || failed="$failed unit"

echo "== Test::Nginx suite and pipeline tests"
# Debian's nginx prints configuration errors to stderr; the wrapper sends
# them to the servroot's error log, where must_die + error_log look.
export TEST_NGINX_BINARY="$top/t/bin/nginx-errlog"
export TEST_NGINX_PORT="${SECKILL_TEST_NGINX_PORT:-18090}"
export TEST_NGINX_SERVROOT="$SECKILL_RUN/servroot"
export TEST_NGINX_LOAD_MODULES="$SECKILL_MODULE"
export TEST_NGINX_REDIS_PORT="$SECKILL_REDIS_PORT"
export TEST_NGINX_KAFKA_PORT="$SECKILL_KAFKA_PORT"
export TEST_NGINX_MYSQL_PORT="$SECKILL_MYSQL_PORT"
export TEST_NGINX_HTML_DIR="$top/html"
# The test stack's Redis password (run/test/secrets), for the tests' own
# nginx configs; redis-cli and mariadb have theirs from lib.sh.
export TEST_NGINX_REDIS_PASSWORD="$SECKILL_REDIS_PASSWORD"
export TEST_NGINX_SECKILL_CLI="$SECKILL_BIN/seckill"
export TEST_NGINX_SECKILL_CONF="$SECKILL_RUN/conf/consumer.conf"
export SECKILL_URL="http://127.0.0.1:$SECKILL_HTTP_PORT"
cd "$top"
# TESTS (make test TESTS="t/011-....t ..."): only those files, no page test.
# shellcheck disable=SC2086
# prove's summary is repeated at the very end: a CI log shows its tail.
prove -I t/lib -r ${TESTS:-t/} 2>&1 | tee "$SECKILL_LOG/prove.log"
if ! grep -q '^Result: PASS' "$SECKILL_LOG/prove.log"; then
    failed="$failed prove"
fi

if [ -z "${TESTS:-}" ]; then
    echo "== the page in headless Chromium"
    SECKILL_PAGE_URL="$SECKILL_URL/" node --test t/page/ || failed="$failed page"
fi

if [ -n "$failed" ]; then
    case $failed in
        *prove*)
            echo "== what failed in prove (all of it: $SECKILL_LOG/prove.log)" >&2
            grep -E '^(not ok|t/.*\.t \.+ *(Failed|Dubious))|^# +(Failed test|at t/)' \
                "$SECKILL_LOG/prove.log" | head -40 >&2 || true
            sed -n '/^Test Summary Report/,$p' "$SECKILL_LOG/prove.log" >&2 ;;
    esac
    echo "FAILED:$failed" >&2
    exit 1
fi
