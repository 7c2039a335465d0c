#!/bin/sh
# deploy/stack.sh up|down|status: the whole local stack in dependency order.
# `up` starts only what is not running (each service script is idempotent)
# and loads the demo catalogue the first time the database is used.
set -eu
. "$(dirname "$0")/lib.sh"

services="redis mariadb kafka consumer nginx"
d=$SECKILL_TOP/deploy
cli="$SECKILL_BIN/seckill -c $SECKILL_RUN/conf/consumer.conf"

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
    elif [ "$(redis-cli -p "$SECKILL_REDIS_PORT" exists seckill:courses)" = 0 ]; then
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
    printf '%-9s %-5s %-8s %s\n' SERVICE STATE PID PORT
    for s in $services; do
        case $s in
        redis)   port=$SECKILL_REDIS_PORT ;;
        mariadb) port=$SECKILL_MYSQL_PORT ;;
        kafka)   port="$SECKILL_KAFKA_PORT,$SECKILL_KAFKA_CONTROLLER_PORT" ;;
        nginx)   port=$SECKILL_HTTP_PORT ;;
        consumer) port=- ;;
        esac
        if pid_alive "$s"; then
            printf '%-9s %-5s %-8s %s\n' "$s" up "$(pid_of "$s")" "$port"
        else
            printf '%-9s %-5s %-8s %s\n' "$s" down - "$port"
        fi
    done
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
