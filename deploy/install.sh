#!/bin/sh
# Installs what the stack needs and is not there yet: Debian packages, then
# Apache Kafka 3.9.1's jars through Maven into a cache directory.
# Idempotent and quiet when everything is present, so `make run` and
# `make test` can call it every time.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/deploy/lib.sh"

# Binaries and headers we build or run with, and the package that brings each.
packages_needed() {
    need() { [ -e "$1" ] || printf '%s\n' "$2"; }
    need /usr/sbin/nginx                       nginx
    need /usr/share/nginx/src/configure        nginx-dev
    need /usr/include/hiredis/async.h          libhiredis-dev
    need /usr/include/librdkafka/rdkafka.h     librdkafka-dev
    need /usr/include/mariadb/mysql.h          libmariadb-dev
    need /usr/include/yajl/yajl_gen.h          libyajl-dev
    need /usr/include/openssl/evp.h            libssl-dev
    need /usr/bin/redis-server                 redis-server
    need /usr/bin/redis-cli                    redis-tools
    need /usr/sbin/mariadbd                    mariadb-server
    need /usr/bin/mariadb                      mariadb-client
    need /usr/bin/wrk                          wrk
    need /usr/bin/ab                           apache2-utils
    need /usr/bin/java                         default-jre-headless
    need /usr/bin/mvn                          maven
    need /usr/bin/prove                        perl
    need /usr/bin/pkg-config                   pkg-config
    need /usr/bin/gcc                          gcc
    need /usr/bin/make                         make
    need /usr/bin/curl                         curl
    need /usr/bin/ss                           iproute2
    # Tests: kcat reads the order topic back; chromium + node run the page test.
    need /usr/bin/kcat                         kcat
    need /usr/bin/chromium                     chromium
    need /usr/share/fonts/truetype/wqy/wqy-microhei.ttc fonts-wqy-microhei
    need /usr/bin/node                         nodejs
    need /usr/bin/npm                          npm
}

install_packages() {
    missing=$(packages_needed | sort -u | tr '\n' ' ')
    [ -n "$missing" ] || return 0
    say "installing Debian packages: $missing"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    # The packages' own init scripts would start a system Redis, MariaDB and
    # nginx on our default ports; policy-rc.d forbids that during the install.
    policy=/usr/sbin/policy-rc.d
    made_policy=no
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo_cmd tee "$policy" >/dev/null
        $sudo_cmd chmod 755 "$policy"
        made_policy=yes
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo_cmd apt-get update -qq
    # shellcheck disable=SC2086
    $sudo_cmd apt-get install -y -qq --no-install-recommends $missing \
        >"$SECKILL_RUN/log/apt.log" 2>&1 \
        || { tail -20 "$SECKILL_RUN/log/apt.log"; die "apt-get install failed (log: run/log/apt.log)"; }
    [ "$made_policy" = no ] || $sudo_cmd rm -f "$policy"
}

install_kafka_jars() {
    lib="$SECKILL_KAFKA_LIB"
    if [ -f "$lib/.complete" ]; then
        return 0
    fi
    say "fetching Apache Kafka 3.9.1 jars through Maven into $lib"
    mkdir -p "$lib"
    mvn -B -q -f "$top/deploy/kafka/pom.xml" \
        org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
        -DoutputDirectory="$lib" -DincludeScope=runtime \
        >"$SECKILL_RUN/log/maven.log" 2>&1 \
        || { tail -20 "$SECKILL_RUN/log/maven.log"; die "maven could not fetch the Kafka jars (log: run/log/maven.log)"; }
    ls "$lib"/kafka_2.13-3.9.1.jar >/dev/null 2>&1 \
        || die "kafka_2.13-3.9.1.jar missing from $lib after maven"
    touch "$lib/.complete"
}

# playwright-core only (it drives Debian's chromium; it never downloads a
# browser of its own), pinned by t/page/package-lock.json.
install_page_test_deps() {
    [ -d "$top/t/page/node_modules/playwright-core" ] && return 0
    say "installing playwright-core for the page test (npm ci)"
    (cd "$top/t/page" && npm ci --no-audit --no-fund) >"$SECKILL_RUN/log/npm.log" 2>&1 \
        || { tail -20 "$SECKILL_RUN/log/npm.log"; die "npm ci failed in t/page (log: run/log/npm.log)"; }
}

mkdir -p "$SECKILL_RUN/log"
install_packages
install_kafka_jars
install_page_test_deps
