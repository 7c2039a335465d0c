# The CLI's course commands seen from the purchase API: a course added with
# `seckill course add` is on sale at once, `course set-stock` changes what
# is left (total - orders - pending, never below 0), and `course remove`
# refuses a course with orders unless --force, which takes it off sale and
# leaves nothing of it in Redis or MariaDB. Course 520.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use SeckillTest qw(need_cli cli cli_ok redis sql settle drop_courses
                   block_defaults);

no_shuffle();
need_cli();

our $C = 520;

add_cleanup_handler(sub { drop_courses($C) });

# Without the sold-out cache, a new stock is seen by the next request.
block_defaults(http => 'seckill_sold_out_ttl off;', more_config => <<'_EOC_');
    location = /api/courses {
        seckill_courses;
    }
_EOC_
run_tests();

__DATA__

=== TEST 1: course add: on sale at once, with its window open
--- init
main::cli('course', 'remove', $main::C, '--force', '--yes');
my $out = main::cli_ok('course', 'add', $main::C, 'Admin test 520 / 管理测试', 1);
Test::More::like($out, qr/^load: course 520: total 1 - orders 0 - pending 0 = remaining 1$/m,
                 'loaded as `seckill load` would');
Test::More::is(main::redis('ZSCORE', 'seckill:courses', $main::C), $main::C, 'listed');
--- request eval
["POST /api/seckill/520/1", "POST /api/seckill/520/2"]
--- error_code eval
[200, 410]



=== TEST 2: course add refuses an id that is taken, and keeps the course as it was
--- init
my ($rc, $out) = main::cli('course', 'add', $main::C, 'Another', 50);
Test::More::is($rc, 1, 'fails');
Test::More::like($out, qr/course 520 is already in MariaDB/, 'saying why');
Test::More::is(main::sql("SELECT CONCAT(name, ' ', total) FROM courses WHERE id = $main::C"),
               'Admin test 520 / 管理测试 1', 'name and seats unchanged');
--- request
POST /api/seckill/520/3
--- error_code: 410



=== TEST 3: course set-stock raises the seats: what is left is total - orders - pending
--- init
main::settle($main::C);
my $out = main::cli_ok('course', 'set-stock', $main::C, 3);
Test::More::like($out, qr/^load: course 520: total 3 - orders \d - pending \d = remaining 2$/m,
                 'one seat taken, two left');
Test::More::is(main::sql("SELECT total FROM courses WHERE id = $main::C"), 3, 'in MariaDB');
--- request eval
["POST /api/seckill/520/2", "POST /api/seckill/520/3", "POST /api/seckill/520/4"]
--- error_code eval
[200, 200, 410]



=== TEST 4: course set-stock below the seats taken: none left, the orders stay
--- init
main::settle($main::C);
my $out = main::cli_ok('course', 'set-stock', $main::C, 1);
Test::More::like($out, qr/note: 3 seat\(s\) already taken, more than 1/, 'says so');
Test::More::is(main::redis('HGET', "seckill:{c$main::C}", 'remaining'), 0, 'never below 0');
--- request
GET /api/orders/520/3
--- error_code: 200



=== TEST 5: course remove refuses a course with orders, and leaves it on sale; --force wants --yes off a terminal
--- init
main::settle($main::C);
my ($rc, $out) = main::cli('course', 'remove', $main::C);
Test::More::is($rc, 1, 'fails');
Test::More::like($out, qr/has \d order\(s\) in MariaDB and \d reservation\(s\) pending in Redis; nothing removed\. .*--force/, 'saying why and what to do');
($rc, $out) = main::cli('course', 'remove', $main::C, '--force');
Test::More::is($rc, 1, '--force without a terminal and without --yes: refused');
Test::More::like($out, qr/has \d order\(s\) and \d pending reservation\(s\); not asked without a terminal: add --yes to delete them/,
                 'naming what it would delete and how to confirm');
Test::More::is(main::redis('ZSCORE', 'seckill:courses', $main::C), $main::C, 'still listed');
--- request
POST /api/seckill/520/5
--- error_code: 410



=== TEST 6: course remove --force: off sale, nothing left of it
--- init
my $out = main::cli_ok('course', 'remove', $main::C, '--force', '--yes');
Test::More::like($out, qr/deleted from MariaDB .* with its \d order\(s\)/, 'with its orders');
Test::More::is(main::redis('KEYS', "seckill:{c$main::C}*"), '', 'no key of it in Redis');
Test::More::is(main::redis('ZSCORE', 'seckill:courses', $main::C), '', 'not listed');
Test::More::is(main::sql("SELECT COUNT(*) FROM courses WHERE id = $main::C"), 0, 'no row');
Test::More::is(main::sql("SELECT COUNT(*) FROM orders WHERE course_id = $main::C"), 0, 'no order');
--- request
POST /api/seckill/520/6
--- error_code: 404
--- response_body chomp
{"status":"unknown_course","course_id":520,"user_id":6}
