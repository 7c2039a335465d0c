# The consumer daemon end to end, on the stack t/run.sh started (its
# seckill-consumer included): orders made the way the module makes them
# (`seckill fill`: reserve script, then an acknowledged Kafka event) become
# exactly one row each, `seckill check` holds once the consumer caught up,
# and a planted inconsistency makes check fail naming the course and the
# numbers. The bench courses it uses (1001..1003) are removed at the end.
use strict;
use warnings;
use lib 't/lib';
use SeckillTest qw(need_pipeline cli redis sql pending drop_courses wait_for);
use Test::More;

need_pipeline();

my @courses = (1001, 1002, 1003);
my $ids = join ',', @courses;

# Waits (30 s at most) until the consumer has persisted and confirmed the
# orders of our courses: n rows, nothing left pending.
sub caught_up {
    my ($n) = @_;
    return wait_for(30, sub {
        pending(@courses) == 0
            && sql("SELECT COUNT(*) FROM orders WHERE course_id IN ($ids)") == $n;
    });
}

drop_courses(@courses);
END { drop_courses(@courses) if @courses }

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
my $key = "seckill:{c$course}:u:$user";
is redis('HGET', $key, 'status'), 'success', 'the status key says success';

redis('HSET', $key, 'status', 'pending');
($rc, $out) = cli('check');
is $rc, 1, 'check fails on a row whose status key is not success';
like $out, qr/^check: course $course: 1 order row\(s\) whose status is not success$/m,
    'naming the course and the count' or diag $out;
like $out, qr/order $order of user $user: status 'pending', want 'success'/, 'and the order';
redis('HSET', $key, 'status', 'success');

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
