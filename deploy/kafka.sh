#!/bin/sh
# deploy/kafka.sh start|stop|props [NODE]: Apache Kafka 3.9.1 (jars from Maven, see
# deploy/install.sh) in KRaft combined mode: SECKILL_KAFKA_NODES brokers
# (default 1), each also a controller. Node 1 keeps the single node's
# names (run/kafka/, run/kafka.pid, run/log/kafka.log); node i of a cluster
# has run/kafka-i/, run/kafka-i.pid, run/log/kafka-i.log. Each node's
# storage is formatted once, on its first start, with the cluster's id.
set -eu
. "$(dirname "$0")/lib.sh"

# kafka_java [exec] CLASS ARGS...: the JVM with a bounded heap and our log4j.
# The log file names follow the node (KAFKA_NODE_LOG, see log4j.properties).
kafka_java() {
    _exec=
    [ "$1" != exec ] || { _exec=exec; shift; }
    $_exec java -Xms128m -Xmx"$SECKILL_KAFKA_HEAP" -XX:+UseG1GC \
        -Dkafka.logs.dir="$SECKILL_LOG" -Dkafka.node.log="${node_log:-kafka}" \
        -Dlog4j.configuration="file:$SECKILL_TOP/conf/kafka/log4j.properties" \
        -cp "$SECKILL_KAFKA_LIB/*" "$@"
}

# node_props I DST: conf/kafka/server.properties for node I: its id and
# ports, every controller of the cluster as a voter, and replication
# factors the cluster can hold (the broker count capped at 3;
# min.insync.replicas 2 once there are 3, so acks=all means two disks).
node_props() {
    _port=$(kafka_port "$(kafka_node "$1")")
    _cport=$(kafka_port "$(kafka_node "$1")" controller)
    _voters= _j=1
    while [ "$_j" -le "$SECKILL_KAFKA_NODES" ]; do
        _voters="$_voters${_voters:+,}$_j@127.0.0.1:$(kafka_port "$(kafka_node "$_j")" controller)"
        _j=$((_j + 1))
    done
    _rf=$SECKILL_KAFKA_NODES
    [ "$_rf" -le 3 ] || _rf=3
    _isr=1
    [ "$_rf" -lt 3 ] || _isr=2
    mkdir -p "$(dirname "$2")"
    # the voters last: the port rewrites must not touch node 1's entry
    sed -e "s#^node\.id=.*#node.id=$1#" \
        -e "s#127\.0\.0\.1:9092#127.0.0.1:$_port#g" \
        -e "s#127\.0\.0\.1:9093#127.0.0.1:$_cport#g" \
        -e "s#^\(offsets\.topic\.replication\.factor\)=.*#\1=$_rf#" \
        -e "s#^\(transaction\.state\.log\.replication\.factor\)=.*#\1=$_rf#" \
        -e "s#^\(default\.replication\.factor\)=.*#\1=$_rf#" \
        -e "s#^\(transaction\.state\.log\.min\.isr\)=.*#\1=$_isr#" \
        -e "s#^\(min\.insync\.replicas\)=.*#\1=$_isr#" \
        -e "s#^controller\.quorum\.voters=.*#controller.quorum.voters=$_voters#" \
        "$SECKILL_TOP/conf/kafka/server.properties" >"$2"
}

# node_ready I: the broker logs this line once it serves clients; the port
# alone opens a little earlier, while the metadata log is still replayed.
node_ready() {
    port_open "$(kafka_port "$(kafka_node "$1")")" \
        && grep -q 'Kafka Server started' "$SECKILL_LOG/$(kafka_node "$1").log"
}

# start_node I: formats its storage the first time and starts it, without
# waiting: a cluster's controllers need a quorum before any is ready.
start_node() {
    _name=$(kafka_node "$1")
    node_log=$_name
    _dir=$SECKILL_RUN/$_name
    _props=$SECKILL_RUN/conf/server.properties
    [ "$1" = 1 ] || _props=$SECKILL_RUN/conf/server-$1.properties
    refuse_busy_port "$_name" "$(kafka_port "$_name")"
    refuse_busy_port "$_name" "$(kafka_port "$_name" controller)"
    mkdir -p "$_dir"
    node_props "$1" "$_props"
    if [ ! -f "$_dir/data/meta.properties" ]; then
        (cd "$_dir" && kafka_java kafka.tools.StorageTool format -t "$cluster_id" \
            -c "$_props" --ignore-formatted) >"$SECKILL_LOG/$_name-format.log" 2>&1 \
            || { tail -20 "$SECKILL_LOG/$_name-format.log"; die "$_name: storage format failed"; }
    fi
    # The last run's logs are kept beside the new ones: a crash's evidence
    # survives the restart that follows it.
    for f in "$SECKILL_LOG/$_name.log" "$SECKILL_LOG/$_name.out"; do
        [ -f "$f" ] && mv "$f" "$f.prev"
    done
    (cd "$_dir" && kafka_java exec kafka.Kafka "$_props") \
        >"$SECKILL_LOG/$_name.out" 2>&1 &
    echo $! >"$SECKILL_RUN/$_name.pid"
}

# wait_node I: the JVM's own complaints (a heap it cannot have, a bad
# option) go to its .out, before log4j writes anything: show both.
wait_node() {
    _name=$(kafka_node "$1")
    if ! (wait_until "$_name" 120 "$SECKILL_LOG/$_name.log" node_ready "$1"); then
        tail -n 20 "$SECKILL_LOG/$_name.out" >&2 2>/dev/null || true
        die "$_name did not start: see $SECKILL_LOG/$_name.log and $SECKILL_LOG/$_name.out (the previous run's: *.prev)"
    fi
    say "$_name up on 127.0.0.1:$(kafka_port "$_name") (pid $(pid_of "$_name"))"
}

case "${1:-}" in
start)
    command -v java >/dev/null || die "java not found: run 'make init' (package default-jre-headless)"
    [ -f "$SECKILL_KAFKA_LIB/.complete" ] || die "Kafka jars missing in $SECKILL_KAFKA_LIB: run 'make init'"
    mkdir -p "$SECKILL_RUN/kafka" "$SECKILL_LOG"
    # One cluster id for every node, drawn once.
    idfile=$SECKILL_RUN/kafka/cluster.id
    if [ ! -s "$idfile" ]; then
        # a single node formatted before the id was kept has its own
        cluster_id=$(sed -n 's/^cluster\.id=//p' "$SECKILL_RUN/kafka/data/meta.properties" 2>/dev/null || true)
        if [ -z "$cluster_id" ]; then
            node_log=kafka-format
            cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid \
                             2>"$SECKILL_LOG/kafka-format.log" | tail -1)
        fi
        if [ -z "$cluster_id" ]; then
            tail -n 20 "$SECKILL_LOG/kafka-format.log" >&2
            die "kafka's StorageTool could not run (log: $SECKILL_LOG/kafka-format.log; SECKILL_KAFKA_HEAP=$SECKILL_KAFKA_HEAP)"
        fi
        echo "$cluster_id" >"$idfile"
    fi
    cluster_id=$(cat "$idfile")
    started=
    i=1
    while [ "$i" -le "$SECKILL_KAFKA_NODES" ]; do
        if ! pid_alive "$(kafka_node "$i")"; then
            start_node "$i"
            started="$started $i"
        fi
        i=$((i + 1))
    done
    for i in $started; do
        wait_node "$i"
    done
    ;;
props)
    # what node I's server.properties is, for a look or a test
    node_props "${2:-1}" /dev/stdout
    ;;
stop)
    # All at once: a broker stopping after the others waits for a
    # controller quorum that has gone.
    for s in $(kafka_services); do
        stop_pid "$s" 60 &
    done
    wait
    ;;
*)
    die "usage: $0 start|stop|props [NODE]"
    ;;
esac
