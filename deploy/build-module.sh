#!/bin/sh
# Builds ngx_http_seckill_module.so against Debian's nginx-dev tree, with the
# exact configure flags of Debian's /usr/sbin/nginx (conf_flags), so the .so
# loads into that binary. The configured tree is kept in build/nginx and only
# re-configured when the module's `config` file changes.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/deploy/lib.sh"

src=/usr/share/nginx/src
tree=$SECKILL_TOP/build/nginx
mod=$SECKILL_TOP/ngx_seckill_module
[ -f "$src/configure" ] || die "$src/configure missing: run 'make init' (package nginx-dev)"

if [ ! -f "$tree/objs/Makefile" ] || [ "$mod/config" -nt "$tree/objs/Makefile" ] \
    || [ "$0" -nt "$tree/objs/Makefile" ]; then
    rm -rf "$tree"
    mkdir -p "$SECKILL_TOP/build"
    cp -r "$src" "$tree"
    # conf_flags is a bash array (NGX_CONF_FLAGS=( ... )); bash reads it.
    # The cc/ld options are Debian's hardening flags (nginx -V) plus our
    # warning policy; spelled out so a CFLAGS in the environment cannot
    # silently drop nginx's own -Werror.
    (cd "$tree" && bash -c '. ./conf_flags && ./configure "${NGX_CONF_FLAGS[@]}" \
        --with-cc-opt="-g -O2 -fstack-protector-strong -Wformat -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2 -Wall -Wextra -Wno-unused-parameter -Werror" \
        --with-ld-opt="-Wl,-z,relro -Wl,-z,now -fPIC" \
        --add-dynamic-module="$0"' "$mod") \
        >"$SECKILL_TOP/build/configure.log" 2>&1 \
        || { tail -20 "$SECKILL_TOP/build/configure.log"; die "nginx configure failed (log: build/configure.log)"; }
fi
make -s -f "$tree/objs/Makefile" -C "$tree" modules \
    || die "module build failed"
cp "$tree/objs/ngx_http_seckill_module.so" "$SECKILL_MODULE.tmp"
mv "$SECKILL_MODULE.tmp" "$SECKILL_MODULE"
