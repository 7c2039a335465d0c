# Self-test of the Test::Nginx harness (t/lib): only stock nginx directives,
# no project module needed.  Passes under the real Test::Nginx too.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use File::Temp ();
use SeckillTest qw(run);

# A test file of its own, run in a server root of its own (before this
# file starts its nginx): (exit status, output).
sub child {
    my ($source) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    open my $t, '>', "$dir/child.t" or die "$dir/child.t: $!";
    print $t $source;
    close $t;
    return run({ TEST_NGINX_SERVROOT => "$dir/servroot" },
               $^X, (map { "-I$_" } grep { !ref } @INC), "$dir/child.t");
}

# Only the shim: a section it does not implement (here one of the real
# module's) makes the file bail out, it is not silently ignored.
if (do { no warnings 'once'; $Test::Nginx::Socket::IsShim }) {
    my (undef, $got) = child(<<'_EOT_');
use Test::Nginx::Socket 'no_plan';
run_tests();
__DATA__

=== TEST 1: a section of the real module that the shim lacks
--- config
--- request
GET /
--- pipelined_requests eval
["GET /", "GET /"]
_EOT_
    Test::More::like($got, qr/^Bail out!.*section --- pipelined_requests is not implemented/m,
                     'shim: an unimplemented section bails out');
}

# Both: the cleanup handlers run from END without a `local $?` (the real
# module runs them twice), so one that leaves $? set fails the file.
{
    my ($status, $got) = child(<<'_EOT_');
use Test::Nginx::Socket 'no_plan';
add_cleanup_handler(sub { system('false') });
run_tests();
__DATA__

=== TEST 1: a block that passes
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok
_EOT_
    Test::More::isnt($status, 0, 'a cleanup handler that leaves $? set fails the file')
        or Test::More::diag($got);
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: return 200 with a body
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- error_code: 200
--- no_error_log
[error]



=== TEST 2: status, headers (present, absent), body regex
--- config
    location = /api/x {
        default_type application/json;
        add_header X-Seckill-Test yes always;
        return 404 '{"status":"not_found"}';
    }
--- request
GET /api/x
--- error_code: 404
--- response_headers
Content-Type: application/json
X-Seckill-Test: yes
!Retry-After
--- response_body_like chomp
^\{"status":"not_found"\}$



=== TEST 3: request body, more_headers, $TEST_NGINX_* expansion, eval sections
--- config
    location = /echo {
        add_header X-Got "$http_x_user/$content_length/$server_port" always;
        add_header X-Env "$TEST_NGINX_SERVER_PORT" always;
        return 200 "$request_method $uri\n";
    }
--- more_headers
X-User: 42
--- request
POST /echo
hello world
--- response_headers eval
"X-Got: 42/11/$ENV{TEST_NGINX_SERVER_PORT}\nX-Env: $ENV{TEST_NGINX_SERVER_PORT}"
--- response_body eval
"POST /echo\n"



=== TEST 4: error_log sees what the request logged (qr// and substring)
--- config
    location = /missing {
        root html;
    }
--- request
GET /missing
--- error_code: 404
--- error_log eval
[qr/open\(\) "[^"]+\/html\/missing" failed/, "No such file or directory"]



=== TEST 5: several requests in one block (arrays of expectations)
--- config
    location = /a { return 200 "a"; }
    location = /b { return 403; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 403]
--- response_body_like eval
["^a\$", "403 Forbidden"]



=== TEST 6: http_config and main_config go where they belong
--- main_config
    env SECKILL_SHIM_SELFTEST=1;
--- http_config
    map $uri $shim_mapped {
        default "mapped";
    }
--- config
    location = /m {
        return 200 "$shim_mapped\n";
    }
--- request
GET /m
--- response_body
mapped



=== TEST 7: raw_request is sent as is
--- config
    location = /raw {
        return 200 "raw $server_protocol\n";
    }
--- raw_request eval
"GET /raw HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body
raw HTTP/1.0



=== TEST 8: a bad directive: nginx must die and say why
--- config
    location = /bad {
        seckill_no_such_directive on;
    }
--- request
GET /bad
--- must_die
--- error_log
unknown directive "seckill_no_such_directive"



=== TEST 9: must_die with the exit code
--- config
    location = /bad {
        return 200 a b c;
    }
--- request
GET /bad
--- must_die: 1
--- error_log
invalid number of arguments in "return" directive
