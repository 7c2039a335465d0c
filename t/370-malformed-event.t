# Fault suite: malformed messages on the order topic (kcat -P) in the middle
# of a load of purchases, on the course's own partition (key = course id)
# and elsewhere: each goes to the dead-letter topic, and the partition goes
# on: every 200 is exactly one row, nothing else is, `seckill check` is
# green. Course 370.
use strict;
use warnings;
use lib 't/lib';
use SeckillTest qw(need_pipeline now_ms wait_for kcat_produce kcat_read
                   sale_under_load load_stop codes_of wait_green
                   verify_answers);
use Test::More;
use Time::HiRes qw(sleep time);

need_pipeline();

my $course = 370;
my $seats = 100_000;

my $marker = "malformed-$$-" . now_ms();
my @bad = (
    "not json at all $marker",
    qq({"order_id":"one","course_id":$course,"user_id":1,"ts":1,"m":"$marker"}),
    qq({"course_id":$course,"user_id":1,"ts":1,"m":"$marker"}),
    qq({"order_id":0,"course_id":$course,"user_id":1,"ts":1,"m":"$marker"}),
    qq({"order_id":9007199254740992,"course_id":$course,"user_id":1,"ts":1,"m":"$marker"}),
    qq([1,2,3,"$marker"]),
    qq({"order_id":1,"course_id":$course,"user_id":1,"ts":1,"m":"$marker"} trailing),
    qq({"m":"$marker","pad":") . ('x' x 5000) . '"}',
    "\x00\x01\xff\xfe binary $marker",
);
# valid JSON under a key that is not its course
my $other = qq({"order_id":1,"course_id":$course,"user_id":1,"ts":1,"m":"$marker"});

sub dead_letters { return scalar grep { index($_, $marker) >= 0 } kcat_read('seckill.orders.dlq') }

my $load = sale_under_load($course, $seats, workers => 4);
sleep 1.5;
ok(kcat_produce('seckill.orders', $course, undef, @bad), 'malformed messages on the course\'s partition');
ok(kcat_produce('seckill.orders', 'not-a-course', undef, $other), 'and one under a wrong key');
sleep 1;
ok(kcat_produce('seckill.orders', $course, undef, $bad[0]), 'and one more later');
my $answers = load_stop($load, 1.5);
my $codes = codes_of($answers);
my $want = @bad + 2;
my $dead = 0;
ok(wait_for(30, sub { ($dead = dead_letters()) >= $want }),
   "all $want on the dead-letter topic") or diag "$dead there";
is(dead_letters(), $want, 'each once');
is(scalar(grep { $_ != 200 } keys %$codes), 0, 'every purchase answered 200');

wait_green(30, $course);
verify_answers($answers, $course, $seats);

done_testing();
