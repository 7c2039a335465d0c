# Shared by every deploy/ script: where things live and which ports they use.
# Each value can be set from the environment; the README lists them.
# shellcheck shell=sh

SECKILL_TOP=${SECKILL_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
SECKILL_RUN=${SECKILL_RUN:-$SECKILL_TOP/run}

# A stack remembers the settings it was created with ($SECKILL_RUN/settings,
# written by `stack.sh up`), and every later command talks to that stack:
# the environment may repeat a setting, never change it. Another stack is
# another SECKILL_RUN directory.
SECKILL_SETTINGS="SECKILL_HTTP_PORT SECKILL_MYSQL_PORT SECKILL_REDIS_PORT
    SECKILL_KAFKA_PORT SECKILL_KAFKA_CONTROLLER_PORT SECKILL_KAFKA_HEAP
    SECKILL_TOPIC SECKILL_KAFKA_NODES SECKILL_REDIS_NODES"
if [ -f "$SECKILL_RUN/settings" ]; then
    while IFS='=' read -r _k _v; do
        case " $(echo $SECKILL_SETTINGS) " in
            *" $_k "*) ;;
            *) continue ;;
        esac
        eval "_env=\${$_k:-}"
        if [ -n "$_env" ] && [ "$_env" != "$_v" ]; then
            printf 'seckill: error: %s=%s, but the stack in %s was created with %s=%s: unset %s to use that stack, or give another stack a SECKILL_RUN directory of its own\n' \
                "$_k" "$_env" "$SECKILL_RUN" "$_k" "$_v" "$_k" >&2
            exit 1
        fi
        eval "$_k=\$_v"
    done <"$SECKILL_RUN/settings"
fi
SECKILL_HTTP_PORT=${SECKILL_HTTP_PORT:-8080}
SECKILL_MYSQL_PORT=${SECKILL_MYSQL_PORT:-3306}
SECKILL_REDIS_PORT=${SECKILL_REDIS_PORT:-6379}
SECKILL_KAFKA_PORT=${SECKILL_KAFKA_PORT:-9092}
SECKILL_KAFKA_CONTROLLER_PORT=${SECKILL_KAFKA_CONTROLLER_PORT:-9093}
SECKILL_KAFKA_LIB=${SECKILL_KAFKA_LIB:-${XDG_CACHE_HOME:-$HOME/.cache}/seckill/kafka-3.9.1}
SECKILL_KAFKA_HEAP=${SECKILL_KAFKA_HEAP:-512m}
SECKILL_TOPIC=${SECKILL_TOPIC:-seckill.orders}
# Brokers: node i (1..SECKILL_KAFKA_NODES) listens on SECKILL_KAFKA_PORT +
# 2(i-1) for clients and SECKILL_KAFKA_CONTROLLER_PORT + 2(i-1) for KRaft.
SECKILL_KAFKA_NODES=${SECKILL_KAFKA_NODES:-1}
case $SECKILL_KAFKA_NODES in
    [1-9]) ;;
    *) printf 'seckill: error: SECKILL_KAFKA_NODES=%s: a broker count from 1 to 9 (3 for a replicated cluster)\n' \
           "$SECKILL_KAFKA_NODES" >&2
       exit 1 ;;
esac
# A service of several nodes (Kafka, Redis) names node 1 as the service
# (kafka, run/kafka.pid, run/log/kafka.log: the single node's names) and
# node i as SERVICE-i.
# node_name SERVICE I: the name of node I
node_name() {
    if [ "$2" = 1 ]; then echo "$1"; else echo "$1-$2"; fi
}

# node_names SERVICE COUNT: every node's name, node 1 first
node_names() {
    _i=1
    while [ "$_i" -le "$2" ]; do
        node_name "$1" "$_i"
        _i=$((_i + 1))
    done
}

# node_number NAME: the I of a node's name (kafka-3: 3, redis: 1)
node_number() {
    case $1 in
        *-[0-9]*) echo "${1##*-}" ;;
        *) echo 1 ;;
    esac
}

kafka_node() { node_name kafka "$1"; }
kafka_services() { node_names kafka "$SECKILL_KAFKA_NODES"; }

# kafka_port NAME [controller]: the client (or controller) port of a broker
kafka_port() {
    _n=$(( $(node_number "$1") - 1 ))
    if [ -n "${2:-}" ]; then
        echo $((SECKILL_KAFKA_CONTROLLER_PORT + 2 * _n))
    else
        echo $((SECKILL_KAFKA_PORT + 2 * _n))
    fi
}

SECKILL_KAFKA_BROKERS=
for _s in $(kafka_services); do
    SECKILL_KAFKA_BROKERS="$SECKILL_KAFKA_BROKERS${SECKILL_KAFKA_BROKERS:+,}127.0.0.1:$(kafka_port "$_s")"
done

# Redis: 1 is one standalone server on SECKILL_REDIS_PORT; 3 to 9 is a
# Redis Cluster of that many masters without replicas (fewer than 3 masters
# cannot form one), node i on SECKILL_REDIS_PORT + (i-1) for clients and
# that port + 1000 for the cluster bus (Redis's own +10000 would land on
# the test ports).
SECKILL_REDIS_NODES=${SECKILL_REDIS_NODES:-1}
case $SECKILL_REDIS_NODES in
    1|[3-9]) ;;
    *) printf 'seckill: error: SECKILL_REDIS_NODES=%s: 1 for one standalone Redis, or 3 to 9 masters for a Redis Cluster (it needs 3 at least)\n' \
           "$SECKILL_REDIS_NODES" >&2
       exit 1 ;;
esac
redis_node() { node_name redis "$1"; }
redis_services() { node_names redis "$SECKILL_REDIS_NODES"; }

# redis_port NAME: the client port of a Redis node
redis_port() {
    echo $((SECKILL_REDIS_PORT + $(node_number "$1") - 1))
}

# redis_bus_port NAME: the cluster bus port of a Redis node (cluster-port)
redis_bus_port() {
    echo $(($(redis_port "$1") + 1000))
}

# Every node's address, node 1 first, comma-separated: the seeds a cluster
# client starts from (one address when standalone).
SECKILL_REDIS_SEEDS=
for _s in $(redis_services); do
    _a=127.0.0.1:$(redis_port "$_s")
    SECKILL_REDIS_SEEDS="$SECKILL_REDIS_SEEDS${SECKILL_REDIS_SEEDS:+,}$_a"
done

SECKILL_MODULE=${SECKILL_MODULE:-$SECKILL_TOP/build/ngx_http_seckill_module.so}
SECKILL_BIN=${SECKILL_BIN:-$SECKILL_TOP/build/bin}
export SECKILL_TOP SECKILL_RUN SECKILL_HTTP_PORT SECKILL_MYSQL_PORT \
    SECKILL_REDIS_PORT SECKILL_KAFKA_PORT SECKILL_KAFKA_CONTROLLER_PORT \
    SECKILL_KAFKA_LIB SECKILL_KAFKA_HEAP SECKILL_TOPIC SECKILL_MODULE SECKILL_BIN \
    SECKILL_KAFKA_NODES SECKILL_KAFKA_BROKERS SECKILL_REDIS_NODES \
    SECKILL_REDIS_SEEDS


# The stack's passwords, made once by make_secrets (below) into
# $SECKILL_RUN/secrets, mode 0600: Redis's requirepass, MariaDB's root and
# its seckill account (the consumer's and the CLI's). render_conf writes
# them into the configs it renders; the clients run from here read them
# from the environment, where no other user sees them (REDISCLI_AUTH for
# redis-cli, MYSQL_PWD for the mariadb client): never on a command line.
SECKILL_SECRETS=$SECKILL_RUN/secrets
load_secrets() {
    [ -f "$SECKILL_SECRETS" ] || return 0
    while IFS='=' read -r _k _v; do
        case $_k in
            SECKILL_REDIS_PASSWORD|SECKILL_MYSQL_PASSWORD|SECKILL_MYSQL_ROOT_PASSWORD)
                eval "$_k=\$_v" ;;
        esac
    done <"$SECKILL_SECRETS"
    REDISCLI_AUTH=$SECKILL_REDIS_PASSWORD
    MYSQL_PWD=$SECKILL_MYSQL_PASSWORD
    export SECKILL_REDIS_PASSWORD SECKILL_MYSQL_PASSWORD REDISCLI_AUTH MYSQL_PWD
}
make_secrets() {
    if [ ! -f "$SECKILL_SECRETS" ]; then
        mkdir -p "$SECKILL_RUN"
        (
            umask 077
            for _k in SECKILL_REDIS_PASSWORD SECKILL_MYSQL_PASSWORD SECKILL_MYSQL_ROOT_PASSWORD; do
                printf '%s=%s\n' "$_k" "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
            done >"$SECKILL_SECRETS.tmp"
        )
        mv "$SECKILL_SECRETS.tmp" "$SECKILL_SECRETS"
    fi
    load_secrets
}
load_secrets

SECKILL_LOG=$SECKILL_RUN/log
SECKILL_MYSQL_SOCKET=$SECKILL_RUN/mariadb/mysqld.sock
export SECKILL_LOG SECKILL_MYSQL_SOCKET

say() { printf 'seckill: %s\n' "$*"; }

# confirm WHAT: a destructive command goes on when YES=1, or when whoever is
# at the terminal types "yes"; anything else stops it.
confirm() {
    [ "${YES:-}" = 1 ] && return 0
    if [ -t 0 ]; then
        printf 'seckill: %s.\nType yes to go on: ' "$1" >&2
        read -r _answer || _answer=
        [ "$_answer" = yes ] && return 0
        die "nothing done"
    fi
    die "$1: not asked without a terminal; confirm with YES=1"
}

# save_settings: the first `up` of a stack writes what it was created with.
save_settings() {
    [ -f "$SECKILL_RUN/settings" ] && return 0
    mkdir -p "$SECKILL_RUN"
    for _k in $SECKILL_SETTINGS; do
        eval "printf '%s=%s\n' \"\$_k\" \"\$$_k\""
    done >"$SECKILL_RUN/settings"
}
die() { printf 'seckill: error: %s\n' "$*" >&2; exit 1; }

# running PID: true when the process exists and is not a zombie (one killed
# but not reaped yet by its parent, e.g. right after a kill -9, answers
# kill -0 although it is gone).
running() {
    kill -0 "$1" 2>/dev/null || return 1
    ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat" 2>/dev/null
}

# pid_alive SERVICE: true when run/SERVICE.pid names a live process.
pid_alive() {
    _pidfile=$SECKILL_RUN/$1.pid
    [ -s "$_pidfile" ] && running "$(cat "$_pidfile")"
}

pid_of() { cat "$SECKILL_RUN/$1.pid" 2>/dev/null || true; }

# port_open PORT: true when something accepts TCP connections on loopback.
port_open() {
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# port_owner PORT: "pid N (name)" of the listener, when ss can tell.
port_owner() {
    ss -Hltnp "sport = :$1" 2>/dev/null \
        | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/pid \2 (\1)/p' | head -1
}

# orphan_workers: pids of nginx workers left serving our HTTP port by a
# master that is gone (killed -9): their parent is init. A live master (its
# parent is init too, it is a daemon) and a system nginx's workers (they
# have their master) are never counted.
orphan_workers() {
    ss -Hltnp "sport = :$SECKILL_HTTP_PORT" 2>/dev/null \
        | grep -o '"nginx",pid=[0-9]*' | sed 's/.*pid=//' | sort -u \
        | while read -r _p; do
              if [ "$(awk '{ print $4 }' "/proc/$_p/stat" 2>/dev/null)" = 1 ] \
                  && tr '\0' ' ' <"/proc/$_p/cmdline" 2>/dev/null | grep -q '^nginx: worker'
              then
                  echo "$_p"
              fi
          done
}

# refuse_busy_port SERVICE PORT: die with a hint when another program has it.
refuse_busy_port() {
    if port_open "$2"; then
        die "$1 cannot start: port $2 in use by $(port_owner "$2" || echo 'another process'); set the port variable (see README) or stop it"
    fi
}

# wait_until SERVICE SECONDS LOGFILE COMMAND...: poll COMMAND until it
# succeeds; on timeout or when the service's process died, show the log.
wait_until() {
    _svc=$1 _secs=$2 _log=$3
    shift 3
    _i=0
    while ! "$@" >/dev/null 2>&1; do
        if ! pid_alive "$_svc"; then
            tail -n 20 "$_log" >&2 2>/dev/null || true
            rm -f "$SECKILL_RUN/$_svc.pid"
            die "$_svc exited while starting (log: $_log)"
        fi
        _i=$((_i + 1))
        if [ "$_i" -gt $((_secs * 5)) ]; then
            tail -n 20 "$_log" >&2 2>/dev/null || true
            die "$_svc not ready after ${_secs}s (log: $_log)"
        fi
        sleep 0.2
    done
}

# stop_pid SERVICE [SECONDS]: TERM, wait, then KILL; removes the pid file.
stop_pid() {
    _svc=$1 _secs=${2:-30}
    if pid_alive "$_svc"; then
        _pid=$(pid_of "$_svc")
        kill -TERM "$_pid" 2>/dev/null || true
        _i=0
        while running "$_pid"; do
            _i=$((_i + 1))
            if [ "$_i" -gt $((_secs * 10)) ]; then
                say "$_svc (pid $_pid) ignored TERM for ${_secs}s; killing"
                kill -KILL "$_pid" 2>/dev/null || true
            fi
            sleep 0.1
        done
    fi
    rm -f "$SECKILL_RUN/$_svc.pid"
}

# render_conf SRC DST: copy a shipped config from conf/ into run/conf/,
# replacing the default loopback addresses with the configured ports, the
# module/html paths with this checkout's, the shipped passwords with the
# stack's own (run/secrets) and nginx's file limit with one it can have.
# The shipped files stay ready to run as they are; this is the only place
# ports are rewritten. The Redis address of nginx (seckill_redis) and of
# the consumer (redis =) becomes every node's, the seeds of a cluster
# client: space-separated for the directive, comma-separated for
# consumer.conf.
render_conf() {
    make_secrets
    mkdir -p "$(dirname "$2")"
    # 0600: consumer.conf holds the database password and the URL-signing
    # secret, and every service runs as the one user who starts the stack.
    (umask 077 && : >"$2.tmp")
    _seeds_sp=$(echo "$SECKILL_REDIS_SEEDS" | tr , ' ')
    # The shipped worker_rlimit_nofile (65536), lowered to the hard limit
    # nginx starts under when that is lower (a container's, often): a worker
    # cannot go above it and would log an alert at every start.
    _nofile=$(ulimit -H -n)
    case "$_nofile" in ''|*[!0-9]*) _nofile=65536 ;; esac
    [ "$_nofile" -le 65536 ] || _nofile=65536
    sed -e "s#127\.0\.0\.1:8080#127.0.0.1:$SECKILL_HTTP_PORT#g" \
        -e "s#^worker_rlimit_nofile 65536;#worker_rlimit_nofile $_nofile;#" \
        -e "s#127\.0\.0\.1:3306#127.0.0.1:$SECKILL_MYSQL_PORT#g" \
        -e "s#\(seckill_redis  *\)127\.0\.0\.1:6379;#\1$_seeds_sp;#" \
        -e "s#^\(redis *= *\)127\.0\.0\.1:6379#\1$SECKILL_REDIS_SEEDS#" \
        -e "s#127\.0\.0\.1:6379#127.0.0.1:$SECKILL_REDIS_PORT#g" \
        -e "s#127\.0\.0\.1:9092#$SECKILL_KAFKA_BROKERS#g" \
        -e "s#127\.0\.0\.1:9093#127.0.0.1:$SECKILL_KAFKA_CONTROLLER_PORT#g" \
        -e "s#^port 6379#port $SECKILL_REDIS_PORT#" \
        -e "s#^load_module .*;#load_module $SECKILL_MODULE;#" \
        -e "s#\.\./\.\./html#$SECKILL_TOP/html#g" \
        -e "s#^requirepass .*#requirepass $SECKILL_REDIS_PASSWORD#" \
        -e "s#^redis_password = .*#redis_password = $SECKILL_REDIS_PASSWORD#" \
        -e "s#seckill_redis_password [^;]*;#seckill_redis_password $SECKILL_REDIS_PASSWORD;#" \
        -e "s#^mysql_password = .*#mysql_password = $SECKILL_MYSQL_PASSWORD#" \
        "$1" >"$2.tmp"
    mv "$2.tmp" "$2"
}
