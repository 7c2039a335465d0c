#!/bin/sh
# deploy/stack.sh up|down|status: the whole local stack in dependency order.
# `up` starts only what is not running (each service script is idempotent)
# and loads the demo catalogue the first time the database is used.
set -eu
. "$(dirname "$0")/lib.sh"

services="$(redis_services | tr '\n' ' ')mariadb"
services="$services $(kafka_services | tr '\n' ' ')consumer nginx"
d=$SECKILL_TOP/deploy
cli="$SECKILL_BIN/seckill -c $SECKILL_RUN/conf/consumer.conf"

# health SERVICE: what the service answers, within about 2 s.
health() {
    case $1 in
    redis*)
        _a=$(timeout 1 redis-cli -p "$(redis_port "$1")" ping 2>/dev/null \
                 || true)
        if [ "$_a" != PONG ]; then
            echo "NO ANSWER to PING in 1 s"
        elif [ "$SECKILL_REDIS_NODES" = 1 ]; then
            echo "ok (PING)"
        else
            cluster_health "$(redis_port "$1")"
        fi
        ;;
    mariadb)
        if timeout 3 mariadb-admin --no-defaults --connect-timeout=2 -h127.0.0.1 \
               -P"$SECKILL_MYSQL_PORT" -useckill ping >/dev/null 2>&1; then
            echo "ok (ping)"
        else
            echo "NO ANSWER to ping in 2 s"
        fi
        ;;
    kafka*)
        port_open "$(kafka_port "$1")" && echo "ok (listening)" || echo "NOT LISTENING"
        ;;
    consumer)
        # its stats file, rewritten every 5 s: age, lag, paused
        _f=$SECKILL_RUN/consumer.prom
        if [ ! -f "$_f" ]; then
            echo "no stats file yet"
            return
        fi
        _age=$(( $(date +%s) - $(stat -c %Y "$_f") ))
        _lag=$(awk '$1 == "seckill_consumer_lag" { print $2 }' "$_f")
        _paused=$(awk '$1 == "seckill_consumer_paused" { print $2 }' "$_f")
        _what="lag ${_lag:-?}, stats ${_age} s old"
        [ "${_paused:-0}" = 0 ] || _what="$_what, PAUSED (MariaDB or Redis unreachable)"
        [ "$_age" -le 15 ] || _what="$_what, STALE (the daemon is stuck?)"
        echo "$_what"
        ;;
    nginx)
        _c=$(curl -s -m 2 -o /dev/null -w '%{http_code}' \
                 "http://127.0.0.1:$SECKILL_HTTP_PORT/api/courses" 2>/dev/null || true)
        case $_c in
        200) echo "ok (/api/courses 200)" ;;
        000|'') echo "NO ANSWER in 2 s" ;;
        *) echo "/api/courses answers $_c" ;;
        esac
        ;;
    esac
}

# cluster_health PORT: the cluster as one node sees it, and how many slots
# that node serves (the slot ranges of its CLUSTER NODES line).
cluster_health() {
    _state=$(timeout 1 redis-cli -p "$1" CLUSTER INFO 2>/dev/null \
                 | tr -d '\r' | sed -n 's/^cluster_state://p')
    _slots=$(timeout 1 redis-cli -p "$1" CLUSTER NODES 2>/dev/null | awk '
        $3 ~ /myself/ {
            for (i = 9; i <= NF; i++) {
                if ($i ~ /^\[/) continue
                n = split($i, r, "-")
                s += (n == 2 ? r[2] - r[1] + 1 : 1)
            }
        }
        END { print s + 0 }')
    if [ "$_state" = ok ]; then
        echo "ok (PING, cluster_state ok, $_slots slots)"
    else
        echo "PING ok, but CLUSTER STATE ${_state:-unknown} ($_slots slots)"
    fi
}

case "${1:-}" in
up)
    mkdir -p "$SECKILL_LOG"
    save_settings
    render_conf "$SECKILL_TOP/conf/consumer.conf" "$SECKILL_RUN/conf/consumer.conf"
    "$d/redis.sh" start
    "$d/mariadb.sh" start
    "$d/kafka.sh" start
    # First use of this database: schema, topics, demo catalogue. The mark
    # lives in MariaDB's data directory, so data removed by hand is
    # initialised again. Afterwards the data is kept across stop/start, so
    # only an empty Redis (e.g. its AOF removed by hand) needs the stock
    # loaded again.
    initialized=$SECKILL_RUN/mariadb/data/.seckill-initialized
    if [ ! -f "$initialized" ]; then
        $cli init
        touch "$initialized"
    elif [ "$(redis-cli -c -p "$SECKILL_REDIS_PORT" exists seckill:courses)" = 0 ]; then
        $cli load
    fi
    "$d/consumer.sh" start
    "$d/nginx.sh" start
    printf '\nCourse Seckill is up: http://127.0.0.1:%s/ (settings: %s/settings)\n' \
        "$SECKILL_HTTP_PORT" "$SECKILL_RUN"
    ;;
down)
    # Reverse order: stop taking purchases first, then let the consumer
    # finish its batch while Kafka, MariaDB and Redis are still up.
    for s in nginx consumer kafka mariadb redis; do
        "$d/$s.sh" stop
    done
    ;;
status)
    # The pid says a process exists; HEALTH asks the service itself (a
    # stopped Redis keeps its pid and answers nothing).
    printf '%-9s %-5s %-8s %-11s %s\n' SERVICE STATE PID PORT HEALTH
    for s in $services; do
        case $s in
        redis*)  port=$(redis_port "$s")
                 [ "$SECKILL_REDIS_NODES" = 1 ] \
                     || port="$port,$(redis_bus_port "$s")" ;;
        mariadb) port=$SECKILL_MYSQL_PORT ;;
        kafka*)  port="$(kafka_port "$s"),$(kafka_port "$s" controller)" ;;
        nginx)   port=$SECKILL_HTTP_PORT ;;
        consumer) port=- ;;
        esac
        if pid_alive "$s"; then
            printf '%-9s %-5s %-8s %-11s %s\n' "$s" up "$(pid_of "$s")" "$port" "$(health "$s")"
        else
            printf '%-9s %-5s %-8s %-11s %s\n' "$s" down - "$port" -
        fi
    done
    orphans=$(orphan_workers)
    [ -z "$orphans" ] || say "nginx workers without their master still serve port" \
        "$SECKILL_HTTP_PORT: $(echo $orphans) ('make stop' ends them)"
    ;;
reset)
    # a new sale: asks first, naming what goes
    orders=$("$0" cli stats 2>/dev/null | awk '$1 == "all" { print $5 }')
    confirm "make reset deletes the ${orders:-?} order(s) of the stack in $SECKILL_RUN and puts every seat back on sale"
    exec "$0" cli reset
    ;;
clean)
    # every piece of data of the stack (`make clean` removes the build too)
    orders=$("$0" cli stats 2>/dev/null | awk '$1 == "all" { print $5 }')
    if [ -d "$SECKILL_RUN" ]; then
        confirm "make clean stops the stack and deletes $SECKILL_RUN (its ${orders:-unknown number of} order(s), Redis, Kafka and logs)"
    fi
    "$0" down
    rm -rf "$SECKILL_RUN"
    ;;
cli)
    # the CLI on this stack (`make reset`, `make check`)
    shift
    [ -f "$SECKILL_RUN/conf/consumer.conf" ] \
        || die "no stack in $SECKILL_RUN yet: start one with 'make run'"
    exec "$SECKILL_BIN/seckill" -c "$SECKILL_RUN/conf/consumer.conf" "$@"
    ;;
*)
    die "usage: $0 up|down|status|reset|clean|cli COMMAND..."
    ;;
esac
