#!/bin/sh
# deploy/kafka.sh start|stop: Apache Kafka 3.9.1 (jars from Maven, see
# deploy/install.sh), one node in KRaft combined mode, data in run/kafka/.
# The storage is formatted once, on the first start.
set -eu
. "$(dirname "$0")/lib.sh"

dir=$SECKILL_RUN/kafka
props=$SECKILL_RUN/conf/server.properties
log=$SECKILL_LOG/kafka.log

# kafka_java [exec] CLASS ARGS...: the JVM with a bounded heap and our log4j.
kafka_java() {
    _exec=
    [ "$1" != exec ] || { _exec=exec; shift; }
    $_exec java -Xms128m -Xmx"$SECKILL_KAFKA_HEAP" -XX:+UseG1GC \
        -Dkafka.logs.dir="$SECKILL_LOG" \
        -Dlog4j.configuration="file:$SECKILL_TOP/conf/kafka/log4j.properties" \
        -cp "$SECKILL_KAFKA_LIB/*" "$@"
}

# The broker logs this line once it serves clients; the port alone opens a
# little earlier, while the metadata log is still being replayed.
kafka_ready() {
    port_open "$SECKILL_KAFKA_PORT" && grep -q 'Kafka Server started' "$log"
}

case "${1:-}" in
start)
    pid_alive kafka && exit 0
    command -v java >/dev/null || die "java not found: run 'make init' (package default-jre-headless)"
    [ -f "$SECKILL_KAFKA_LIB/.complete" ] || die "Kafka jars missing in $SECKILL_KAFKA_LIB: run 'make init'"
    refuse_busy_port kafka "$SECKILL_KAFKA_PORT"
    refuse_busy_port kafka "$SECKILL_KAFKA_CONTROLLER_PORT"
    mkdir -p "$dir" "$SECKILL_LOG"
    render_conf "$SECKILL_TOP/conf/kafka/server.properties" "$props"
    if [ ! -f "$dir/data/meta.properties" ]; then
        uuid=$(kafka_java kafka.tools.StorageTool random-uuid \
                   2>"$SECKILL_LOG/kafka-format.log" | tail -1)
        if [ -z "$uuid" ]; then
            tail -n 20 "$SECKILL_LOG/kafka-format.log" >&2
            die "kafka's StorageTool could not run (log: $SECKILL_LOG/kafka-format.log; SECKILL_KAFKA_HEAP=$SECKILL_KAFKA_HEAP)"
        fi
        (cd "$dir" && kafka_java kafka.tools.StorageTool format -t "$uuid" \
            -c "$props" --ignore-formatted) >"$SECKILL_LOG/kafka-format.log" 2>&1 \
            || { tail -20 "$SECKILL_LOG/kafka-format.log"; die "kafka storage format failed"; }
    fi
    # The last run's logs are kept beside the new ones: a crash's evidence
    # survives the restart that follows it.
    for f in "$log" "$SECKILL_LOG/kafka.out"; do
        [ -f "$f" ] && mv "$f" "$f.prev"
    done
    (cd "$dir" && kafka_java exec kafka.Kafka "$props") \
        >"$SECKILL_LOG/kafka.out" 2>&1 &
    echo $! >"$SECKILL_RUN/kafka.pid"
    # The JVM's own complaints (a heap it cannot have, a bad option) go to
    # kafka.out, before log4j writes anything to kafka.log: show both.
    if ! (wait_until kafka 120 "$log" kafka_ready); then
        tail -n 20 "$SECKILL_LOG/kafka.out" >&2 2>/dev/null || true
        die "kafka did not start: see $log and $SECKILL_LOG/kafka.out (the previous run's: *.prev)"
    fi
    say "kafka up on 127.0.0.1:$SECKILL_KAFKA_PORT (pid $(pid_of kafka))"
    ;;
stop)
    stop_pid kafka 60
    ;;
*)
    die "usage: $0 start|stop"
    ;;
esac
