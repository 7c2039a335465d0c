#!/bin/sh
# deploy/redis.sh start|stop: Redis from conf/redis.conf, its requirepass
# the stack's own (run/secrets). SECKILL_REDIS_NODES=1 (the default) is one
# standalone server; 3 to 9 is a Redis Cluster of that many masters, formed
# once, by the first start, which finds each node knowing only itself (a
# restarted node rejoins from its nodes.conf). Node 1 keeps the
# single server's names (run/redis/, run/redis.pid, run/conf/redis.conf,
# run/log/redis.log); node i has run/redis-i/, run/redis-i.pid,
# run/conf/redis-i.conf, run/log/redis-i.log.
set -eu
. "$(dirname "$0")/lib.sh"

# node_conf NAME: the node's run/conf/NAME.conf, rendered from
# conf/redis.conf with its own port (render_conf writes SECKILL_REDIS_PORT,
# set to the node's in the subshell); a cluster node also gets the lines
# conf/redis.conf describes at its end.
node_conf() {
    _conf=$SECKILL_RUN/conf/$1.conf
    (
        SECKILL_REDIS_PORT=$(redis_port "$1")
        render_conf "$SECKILL_TOP/conf/redis.conf" "$_conf"
    )
    [ "$SECKILL_REDIS_NODES" != 1 ] || return 0
    cat >>"$_conf" <<EOF

# Added by deploy/redis.sh: node $1 of a Redis Cluster of
# $SECKILL_REDIS_NODES masters.
cluster-enabled yes
cluster-config-file nodes.conf
cluster-port $(redis_bus_port "$1")
cluster-node-timeout 5000
cluster-require-full-coverage no
masterauth $SECKILL_REDIS_PASSWORD
EOF
}

# PONG, not LOADING: the AOF has been replayed.
node_ready() {
    [ "$(redis-cli -p "$(redis_port "$1")" ping 2>/dev/null)" = PONG ]
}

# take_password NAME: a node started before the stack had passwords takes
# one now (and from its rendered config at its next start). Asked without
# REDISCLI_AUTH: with it redis-cli would send an AUTH that such a node
# refuses. The password goes to redis-cli on its standard input, never on
# its command line.
take_password() {
    _port=$(redis_port "$1")
    _pong=$(unset REDISCLI_AUTH; redis-cli -p "$_port" ping 2>/dev/null)
    [ "$_pong" = PONG ] || return 0
    printf 'CONFIG SET requirepass %s\n' "$SECKILL_REDIS_PASSWORD" \
        | (unset REDISCLI_AUTH; redis-cli -p "$_port" >/dev/null)
    node_conf "$1"
}

# start_node NAME: starts it without waiting, so that the nodes of a
# cluster replay their AOFs side by side.
start_node() {
    refuse_busy_port "$1" "$(redis_port "$1")"
    [ "$SECKILL_REDIS_NODES" = 1 ] \
        || refuse_busy_port "$1" "$(redis_bus_port "$1")"
    mkdir -p "$SECKILL_RUN/$1"
    node_conf "$1"
    (cd "$SECKILL_RUN/$1" && exec redis-server "$SECKILL_RUN/conf/$1.conf" \
        --logfile "$SECKILL_LOG/$1.log" --pidfile "") >/dev/null 2>&1 &
    echo $! >"$SECKILL_RUN/$1.pid"
}

# cluster_field NAME FIELD: FIELD of the node's CLUSTER INFO
cluster_field() {
    redis-cli -p "$(redis_port "$1")" CLUSTER INFO 2>/dev/null \
        | tr -d '\r' | sed -n "s/^$2://p"
}

# cluster_ok NAME: the node serves its slots, knows every other node and
# sees all 16384 slots assigned (cluster_state:ok alone would not say so:
# with cluster-require-full-coverage no, slots nobody owns keep it ok).
cluster_ok() {
    [ "$(cluster_field "$1" cluster_state)" = ok ] \
        && [ "$(cluster_field "$1" cluster_slots_assigned)" = 16384 ] \
        && [ "$(cluster_field "$1" cluster_known_nodes)" \
                 = "$SECKILL_REDIS_NODES" ]
}

# form_cluster: nodes that each know only themselves are a new cluster:
# redis-cli (password from REDISCLI_AUTH) meets them and spreads the 16384
# slots over them (it refuses a node that holds keys or slots already). A
# formed cluster is never created again: its nodes rejoin from their
# nodes.conf after a restart. Then every node must say cluster_state:ok.
form_cluster() {
    _fresh= _formed=
    for _s in $(redis_services); do
        if [ "$(cluster_field "$_s" cluster_known_nodes)" = 1 ]; then
            _fresh="$_fresh $_s"
        else
            _formed="$_formed $_s"
        fi
    done
    if [ -z "$_formed" ]; then
        _create_log=$SECKILL_LOG/redis-cluster-create.log
        # shellcheck disable=SC2046
        redis-cli --cluster create $(echo "$SECKILL_REDIS_SEEDS" | tr , ' ') \
            --cluster-replicas 0 --cluster-yes >"$_create_log" 2>&1 || {
            tail -n 20 "$_create_log" >&2
            die "redis-cli --cluster create failed (log: $_create_log)"
        }
        say "redis cluster created over $SECKILL_REDIS_SEEDS"
    elif [ -n "$_fresh" ]; then
        die "Redis nodes out of the cluster (each knows only itself: its nodes.conf removed?):$_fresh; in it:$_formed. Put their nodes.conf back, or start a new stack ('make clean')"
    fi
    for _s in $(redis_services); do
        if ! (wait_until "$_s" 60 "$SECKILL_LOG/$_s.log" cluster_ok "$_s"); then
            die "$_s: not cluster_state:ok with $SECKILL_REDIS_NODES known nodes and 16384 slots assigned after 60s; see redis-cli -p $(redis_port "$_s") CLUSTER INFO and CLUSTER NODES"
        fi
    done
    say "redis cluster ok: $SECKILL_REDIS_NODES masters, 16384 slots"
}

case "${1:-}" in
start)
    make_secrets
    command -v redis-server >/dev/null || die "redis-server not found: run 'make init'"
    mkdir -p "$SECKILL_LOG"
    started=
    for s in $(redis_services); do
        if pid_alive "$s"; then
            take_password "$s"
        else
            start_node "$s"
            started="$started $s"
        fi
    done
    for s in $started; do
        wait_until "$s" 60 "$SECKILL_LOG/$s.log" node_ready "$s"
        say "$s up on 127.0.0.1:$(redis_port "$s") (pid $(pid_of "$s"))"
    done
    [ "$SECKILL_REDIS_NODES" = 1 ] || form_cluster
    ;;
stop)
    # All at once: each node flushes its own AOF, one after the other
    # would only add up the waits.
    for s in $(redis_services); do
        stop_pid "$s" 30 &
    done
    wait
    ;;
*)
    die "usage: $0 start|stop"
    ;;
esac
