# Fault suite: the consumer daemon killed -9 three times under a load of
# purchases, restarted each time with deploy/consumer.sh. Every purchase
# still gets a true answer (200: the order is in Kafka), and once the
# restarted daemon caught up, every 200 is exactly one row, nothing else
# is, and `seckill check` is green. Course 310.
use strict;
use warnings;
use lib 't/lib';
use SeckillTest qw(need_pipeline svc svc_pid sale_under_load load_stop
                   codes_of wait_green verify_answers);
use Test::More;
use Time::HiRes qw(sleep);

need_pipeline();

my $course = 310;
my $seats = 3000;

END { svc('consumer', 'start') }

my $load = sale_under_load($course, $seats, workers => 4);

my $killed = 0;
for (1 .. 3) {
    sleep 1.5;
    my $pid = svc_pid('consumer');
    $killed++ if $pid && kill 'KILL', $pid;
    sleep 0.3;
    svc('consumer', 'start');
}
is($killed, 3, 'the consumer was killed three times and started again');

my $answers = load_stop($load, 1);
my $codes = codes_of($answers);
ok(($codes->{200} // 0) > 50, "purchases went on meanwhile ($codes->{200} answered 200)");
is(scalar(grep { $_ != 200 && $_ != 410 } keys %$codes), 0,
   'the consumer is not on the purchase path: only 200 and 410');

wait_green(90, $course);
verify_answers($answers, $course, $seats);

done_testing();
