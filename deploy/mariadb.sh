#!/bin/sh
# deploy/mariadb.sh start|stop: a private MariaDB in run/mariadb/ on its own
# port and socket, never the system's. Every start makes sure of the
# accounts: root with the stack's root password (run/secrets) and no root
# account over TCP, the `seckill` account (the consumer's and the CLI's)
# with its generated password and rights on the seckill database only.
set -eu
. "$(dirname "$0")/lib.sh"

dir=$SECKILL_RUN/mariadb
data=$dir/data
cnf=$SECKILL_RUN/conf/mariadb.cnf
log=$SECKILL_LOG/mariadb.log

root_sql() {
    MYSQL_PWD=$SECKILL_MYSQL_ROOT_PASSWORD \
        mariadb --no-defaults --socket="$SECKILL_MYSQL_SOCKET" -uroot "$@"
}

# Up, whatever the credentials: mariadb-admin ping succeeds on "access denied".
mariadb_ready() {
    MYSQL_PWD= mariadb-admin --no-defaults --socket="$SECKILL_MYSQL_SOCKET" \
        -uroot ping
}

# A new data directory (and one made before the stack had passwords) has a
# root without one, also over TCP (root@127.0.0.1): it gets its password
# first, through the socket, then the accounts are made what they should be.
secure_accounts() {
    if ! root_sql -e 'SELECT 1' >/dev/null 2>&1; then
        MYSQL_PWD= mariadb --no-defaults --socket="$SECKILL_MYSQL_SOCKET" -uroot \
            -e "ALTER USER root@localhost IDENTIFIED BY '$SECKILL_MYSQL_ROOT_PASSWORD'" \
            || die "cannot log in as MariaDB's root with the password in $SECKILL_SECRETS, nor without one (log: $log)"
    fi
    _host=$(hostname | tr -cd 'A-Za-z0-9.-')
    _pw=$SECKILL_MYSQL_PASSWORD
    root_sql <<SQL || die "could not set up the seckill account (log: $log)"
DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', 'root'@'$_host',
    ''@'localhost', ''@'$_host';
CREATE DATABASE IF NOT EXISTS seckill CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'seckill'@'127.0.0.1' IDENTIFIED BY '$_pw';
CREATE USER IF NOT EXISTS 'seckill'@'localhost' IDENTIFIED BY '$_pw';
ALTER USER 'seckill'@'127.0.0.1' IDENTIFIED BY '$_pw';
ALTER USER 'seckill'@'localhost' IDENTIFIED BY '$_pw';
GRANT ALL PRIVILEGES ON seckill.* TO 'seckill'@'127.0.0.1';
GRANT ALL PRIVILEGES ON seckill.* TO 'seckill'@'localhost';
SQL
}

case "${1:-}" in
start)
    make_secrets
    if pid_alive mariadb; then
        secure_accounts
        exit 0
    fi
    command -v mariadbd >/dev/null || die "mariadbd not found: run 'make init'"
    refuse_busy_port mariadb "$SECKILL_MYSQL_PORT"
    mkdir -p "$dir" "$SECKILL_LOG"
    render_conf "$SECKILL_TOP/conf/mariadb.cnf" "$cnf"
    user=$(id -un)
    if [ ! -d "$data/mysql" ]; then
        rm -rf "$data"
        # root@localhost with no password until secure_accounts gives it
        # one; its socket is in run/mariadb/, the stack user's (0700).
        mariadb-install-db --no-defaults --datadir="$data" --user="$user" \
            --auth-root-authentication-method=normal \
            --skip-test-db >"$SECKILL_LOG/mariadb-install.log" 2>&1 \
            || { tail -20 "$SECKILL_LOG/mariadb-install.log"; die "mariadb-install-db failed"; }
    fi
    chmod 700 "$dir"
    mariadbd --defaults-file="$cnf" --datadir="$data" \
        --socket="$SECKILL_MYSQL_SOCKET" --pid-file="$dir/mariadbd.pid" \
        --log-error="$log" --port="$SECKILL_MYSQL_PORT" --user="$user" \
        >/dev/null 2>&1 &
    echo $! >"$SECKILL_RUN/mariadb.pid"
    wait_until mariadb 120 "$log" mariadb_ready
    secure_accounts
    say "mariadb up on 127.0.0.1:$SECKILL_MYSQL_PORT (pid $(pid_of mariadb))"
    ;;
stop)
    stop_pid mariadb 60
    ;;
*)
    die "usage: $0 start|stop"
    ;;
esac
