#!/bin/sh
# deploy/redis.sh start|stop: Redis from conf/redis.conf, data in run/redis/,
# its requirepass the stack's own (run/secrets).
set -eu
. "$(dirname "$0")/lib.sh"

dir=$SECKILL_RUN/redis

# PONG, not LOADING: the AOF has been replayed.
redis_ready() {
    [ "$(redis-cli -p "$SECKILL_REDIS_PORT" ping 2>/dev/null)" = PONG ]
}
case "${1:-}" in
start)
    make_secrets
    if pid_alive redis; then
        # started before the stack had passwords: it takes one now (and
        # from run/conf/redis.conf at its next start)
        if [ "$(REDISCLI_AUTH= redis-cli -p "$SECKILL_REDIS_PORT" ping 2>/dev/null)" = PONG ]; then
            REDISCLI_AUTH= redis-cli -p "$SECKILL_REDIS_PORT" \
                CONFIG SET requirepass "$SECKILL_REDIS_PASSWORD" >/dev/null
            render_conf "$SECKILL_TOP/conf/redis.conf" "$SECKILL_RUN/conf/redis.conf"
        fi
        exit 0
    fi
    command -v redis-server >/dev/null || die "redis-server not found: run 'make init'"
    refuse_busy_port redis "$SECKILL_REDIS_PORT"
    mkdir -p "$dir" "$SECKILL_LOG"
    render_conf "$SECKILL_TOP/conf/redis.conf" "$SECKILL_RUN/conf/redis.conf"
    (cd "$dir" && exec redis-server "$SECKILL_RUN/conf/redis.conf" \
        --logfile "$SECKILL_LOG/redis.log" --pidfile "" ) >/dev/null 2>&1 &
    echo $! >"$SECKILL_RUN/redis.pid"
    wait_until redis 60 "$SECKILL_LOG/redis.log" redis_ready
    say "redis up on 127.0.0.1:$SECKILL_REDIS_PORT (pid $(pid_of redis))"
    ;;
stop)
    stop_pid redis 30
    ;;
*)
    die "usage: $0 start|stop"
    ;;
esac
