# The consumer daemon end to end, on the stack t/run.sh started (its
# seckill-consumer included): orders made the way the module makes them
# (`seckill fill`: reserve script, then an acknowledged Kafka event) become
# exactly one row each, `seckill check` holds once the consumer caught up,
# and a planted inconsistency makes check fail naming the course and the
# numbers. The bench courses it uses (1001..1003) are removed at the end.
use strict;
use warnings;
use Test::More;

my ($cli, $conf) = @ENV{qw(TEST_NGINX_SECKILL_CLI TEST_NGINX_SECKILL_CONF)};
my ($redis_port, $mysql_port) = @ENV{qw(TEST_NGINX_REDIS_PORT TEST_NGINX_MYSQL_PORT)};
plan skip_all => 'needs the services and the consumer of t/run.sh'
    unless $cli && $conf && $redis_port && $mysql_port;

my @courses = (1001, 1002, 1003);
my $ids = join ',', @courses;

sub cli {
    my $out = qx{$cli -c $conf @_ 2>&1};
    return ($? >> 8, $out);
}

sub sql {
    my ($query) = @_;
    my $out = qx{mariadb --no-defaults -h127.0.0.1 -P$mysql_port -useckill seckill -N -B -e "$query"};
    chomp $out;
    return $out;
}

sub redis {
    my $out = qx{redis-cli -p $redis_port @_};
    chomp $out;
    return $out;
}

sub cleanup {
    sql("DELETE FROM orders WHERE course_id IN ($ids)");
    sql("DELETE FROM courses WHERE id IN ($ids)");
    for my $c (@courses) {
        system("redis-cli -p $redis_port --scan --pattern 'seckill:{c$c}*'"
               . " | xargs -r -n 1000 redis-cli -p $redis_port del >/dev/null");
    }
    redis("zrem seckill:courses @courses");
}

# Waits (30 s at most) until the consumer has persisted and confirmed the
# orders of our courses: n rows, nothing left pending.
sub caught_up {
    my ($n) = @_;
    my $deadline = time + 30;
    while (time < $deadline) {
        my $pending = 0;
        $pending += redis("hlen 'seckill:{c$_}:pending'") for @courses;
        return 1 if $pending == 0 && sql("SELECT COUNT(*) FROM orders WHERE course_id IN ($ids)") == $n;
        select undef, undef, undef, 0.2;
    }
    return 0;
}

cleanup();
END { cleanup() if $cli }

my ($rc, $out) = cli('fill', 300, '--courses', scalar @courses);
is $rc, 0, 'fill: 300 orders reserved and produced' or diag $out;

ok caught_up(300), 'the consumer persisted and confirmed them';
($rc, $out) = cli('check');
is $rc, 0, 'check passes' or diag $out;
like $out, qr/^check: ok \(\d+ courses, \d+ orders\)$/m, 'check says ok';
is sql("SELECT COUNT(*) FROM orders WHERE course_id IN ($ids)"), 300, 'one row per order';
is sql("SELECT COUNT(*) FROM (SELECT 1 FROM orders WHERE course_id IN ($ids)"
       . " GROUP BY course_id, user_id HAVING COUNT(*) > 1) d"), 0, 'no user with two orders';

my ($order, $course, $user) = split /\t/, sql("SELECT order_id, course_id, user_id FROM orders"
                                              . " WHERE course_id = $courses[0] ORDER BY order_id LIMIT 1");
my $key = "'seckill:{c$course}:u:$user'";
is redis("hget $key status"), 'success', 'the status key says success';

redis("hset $key status pending");
($rc, $out) = cli('check');
is $rc, 1, 'check fails on a row whose status key is not success';
like $out, qr/^check: course $course: 1 order row\(s\) whose status is not success$/m,
    'naming the course and the count' or diag $out;
like $out, qr/order $order of user $user: status 'pending', want 'success'/, 'and the order';
redis("hset $key status success");

sql("DELETE FROM orders WHERE order_id = $order");
($rc, $out) = cli('check');
is $rc, 1, 'check fails on a missing row';
like $out, qr/^check: course $course: remaining \d+ \+ orders \d+ \+ pending 0 = (\d+), want total (\d+)$/m,
    'conservation names the numbers' or diag $out;
like $out, qr/^check: course $course: 1 status key\(s\) saying success without their order row$/m,
    'and the success key without its row';
sql("INSERT INTO orders (order_id, course_id, user_id, created_at) VALUES ($order, $course, $user, 0)");

($rc, $out) = cli('check');
is $rc, 0, 'check passes again once repaired' or diag $out;

done_testing();
