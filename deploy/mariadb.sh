#!/bin/sh
# deploy/mariadb.sh start|stop: a private MariaDB in run/mariadb/ on its own
# port and socket, never the system's. The first start creates the data
# directory and the `seckill` account (password `seckill`) and database.
set -eu
. "$(dirname "$0")/lib.sh"

dir=$SECKILL_RUN/mariadb
data=$dir/data
cnf=$SECKILL_RUN/conf/mariadb.cnf
log=$SECKILL_LOG/mariadb.log

root_sql() {
    mariadb --no-defaults --socket="$SECKILL_MYSQL_SOCKET" -uroot "$@"
}

mariadb_ready() {
    root_sql -e 'SELECT 1'
}

case "${1:-}" in
start)
    pid_alive mariadb && exit 0
    command -v mariadbd >/dev/null || die "mariadbd not found: run 'make init'"
    refuse_busy_port mariadb "$SECKILL_MYSQL_PORT"
    mkdir -p "$dir" "$SECKILL_LOG"
    render_conf "$SECKILL_TOP/conf/mariadb.cnf" "$cnf"
    user=$(id -un)
    fresh=no
    if [ ! -d "$data/mysql" ]; then
        rm -rf "$data"
        # root@localhost with no password, reachable only through our socket:
        # works whether we run as root (CI) or as a normal user.
        mariadb-install-db --no-defaults --datadir="$data" --user="$user" \
            --auth-root-authentication-method=normal \
            --skip-test-db >"$SECKILL_LOG/mariadb-install.log" 2>&1 \
            || { tail -20 "$SECKILL_LOG/mariadb-install.log"; die "mariadb-install-db failed"; }
        fresh=yes
    fi
    mariadbd --defaults-file="$cnf" --datadir="$data" \
        --socket="$SECKILL_MYSQL_SOCKET" --pid-file="$dir/mariadbd.pid" \
        --log-error="$log" --port="$SECKILL_MYSQL_PORT" --user="$user" \
        >/dev/null 2>&1 &
    echo $! >"$SECKILL_RUN/mariadb.pid"
    wait_until mariadb 120 "$log" mariadb_ready
    if [ "$fresh" = yes ]; then
        root_sql <<'SQL' || die "could not create the seckill account"
CREATE DATABASE IF NOT EXISTS seckill CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'seckill'@'127.0.0.1' IDENTIFIED BY 'seckill';
CREATE USER IF NOT EXISTS 'seckill'@'localhost' IDENTIFIED BY 'seckill';
GRANT ALL PRIVILEGES ON seckill.* TO 'seckill'@'127.0.0.1';
GRANT ALL PRIVILEGES ON seckill.* TO 'seckill'@'localhost';
SQL
    fi
    say "mariadb up on 127.0.0.1:$SECKILL_MYSQL_PORT (pid $(pid_of mariadb))"
    ;;
stop)
    stop_pid mariadb 60
    ;;
*)
    die "usage: $0 start|stop"
    ;;
esac
