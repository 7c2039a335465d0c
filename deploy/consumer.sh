#!/bin/sh
# deploy/consumer.sh start|stop: the consumer daemon (build/bin/seckill-consumer)
# with run/conf/consumer.conf; it logs to run/log/consumer.log.
set -eu
. "$(dirname "$0")/lib.sh"

conf=$SECKILL_RUN/conf/consumer.conf
log=$SECKILL_LOG/consumer.log
bin=$SECKILL_BIN/seckill-consumer

# The daemon logs "started (pid N, ...)" once its Kafka consumer is set up.
consumer_ready() {
    grep -q "started (pid $(pid_of consumer)," "$log" 2>/dev/null
}

case "${1:-}" in
start)
    pid_alive consumer && exit 0
    [ -x "$bin" ] || die "$bin missing: run 'make build'"
    mkdir -p "$SECKILL_LOG"
    render_conf "$SECKILL_TOP/conf/consumer.conf" "$conf"
    "$bin" -c "$conf" >>"$SECKILL_LOG/consumer.out" 2>&1 &
    echo $! >"$SECKILL_RUN/consumer.pid"
    wait_until consumer 30 "$log" consumer_ready
    say "consumer up (pid $(pid_of consumer)), log $log"
    ;;
stop)
    # TERM: the daemon finishes the batch in hand, commits, and exits.
    stop_pid consumer 60
    ;;
*)
    die "usage: $0 start|stop"
    ;;
esac
