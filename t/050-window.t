# Sale windows end to end: a course made and moved with the CLI
# (`seckill course add`, `course set-window`), refused by the module outside
# its window (403 not_started / ended) without touching its stock, and on
# sale once the window opens. Course 501, made here and dropped at the
# end.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use SeckillTest qw(need_cli cli cli_ok redis sql drop_courses http
                   block_defaults);
use Time::HiRes ();

no_shuffle();
need_cli();

our $C = 501;

# what a refused purchase must leave as it was
sub untouched {
    my ($remaining, $what) = @_;
    Test::More::is(redis('HGET', "seckill:{c$C}", 'remaining'), $remaining,
                   "$what: remaining unchanged");
    Test::More::is(redis('KEYS', "seckill:{c$C}:u:*"), '',
                   "$what: no order key for the users");
    Test::More::is(redis('HLEN', "seckill:{c$C}:pending"), 0,
                   "$what: nothing pending");
}

add_cleanup_handler(sub { drop_courses($C) });
block_defaults();
run_tests();

__DATA__

=== TEST 1: before the start: 403 not_started with starts_at
--- init
main::cli('course', 'remove', $main::C, '--force', '--yes');
main::cli_ok('course', 'add', $main::C, "Window test $main::C", 5,
             '--starts', '+1h', '--ends', '+2h');
--- request
POST /api/seckill/501/1
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"status":"not_started","starts_at":1[0-9]{12},"course_id":501,"user_id":1\}$
--- no_error_log
[error]



=== TEST 2: not_started takes nothing, and names the start of MariaDB and Redis
--- init
my ($code, $body) = main::http('POST', "/api/seckill/$main::C/2");
my $starts = main::redis('HGET', "seckill:{c$main::C}", 'starts_at');
Test::More::is($code, 403, 'refused');
Test::More::like($body, qr/"starts_at":$starts,/, 'starts_at is the course\'s');
Test::More::is(main::sql("SELECT starts_at FROM courses WHERE id = $main::C"),
               $starts, 'the same start in MariaDB');
Test::More::cmp_ok($starts - Time::HiRes::time() * 1000, '>', 3500000,
                   'an hour from now, as --starts +1h said');
main::untouched(5, 'not_started');
--- request
GET /api/orders/501/2
--- error_code: 404
--- response_body chomp
{"status":"none","course_id":501,"user_id":2}



=== TEST 3: after the end: 403 ended with ends_at
--- init
main::cli_ok('course', 'set-window', $main::C, '-2h', '-1h');
--- request
POST /api/seckill/501/1
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"status":"ended","ends_at":1[0-9]{12},"course_id":501,"user_id":1\}$
--- no_error_log
[error]



=== TEST 4: ended takes nothing, and names the end set-window wrote to both stores
--- init
my ($code, $body) = main::http('POST', "/api/seckill/$main::C/2");
my $ends = main::redis('HGET', "seckill:{c$main::C}", 'ends_at');
Test::More::is($code, 403, 'refused');
Test::More::like($body, qr/"status":"ended","ends_at":$ends,/, 'ends_at is the course\'s');
Test::More::is(main::sql("SELECT CONCAT(starts_at, ' ', ends_at) FROM courses WHERE id = $main::C"),
               main::redis('HGET', "seckill:{c$main::C}", 'starts_at') . " $ends",
               'the same window in MariaDB');
Test::More::cmp_ok(Time::HiRes::time() * 1000 - $ends, '>', 3500000,
                   'an hour ago, as set-window -1h said');
main::untouched(5, 'ended');
--- request
GET /api/orders/501/2
--- error_code: 404



=== TEST 5: set-window opens the sale: 200 pending
--- init
main::cli_ok('course', 'set-window', $main::C, 'now', '+1h');
--- request
POST /api/seckill/501/1
--- error_code: 200
--- response_body_like chomp
^\{"status":"pending","order_id":[1-9][0-9]*,"course_id":501,"user_id":1\}$
--- no_error_log
[error]



=== TEST 6: a window that ends before it starts is refused, and changes nothing
--- init
my $before = main::redis('HGET', "seckill:{c$main::C}", 'ends_at');
my ($rc, $out) = main::cli('course', 'set-window', $main::C, '+2h', '+1h');
Test::More::is($rc, 2, 'usage error');
Test::More::like($out, qr/must start before it ends/, 'saying why');
($rc, $out) = main::cli('course', 'set-window', $main::C, 'tomorrow', '+1h');
Test::More::is($rc, 2, 'a time it cannot read: usage error');
Test::More::like($out, qr/'tomorrow': want ISO 8601 UTC/, 'saying what it wants');
Test::More::is(main::redis('HGET', "seckill:{c$main::C}", 'ends_at'), $before,
               'the window in Redis is as it was');
Test::More::is(main::redis('HGET', "seckill:{c$main::C}", 'remaining'), 4,
               'one seat sold while open');
--- request
POST /api/seckill/501/2
--- error_code: 200
