# Fault suite: the Kafka broker killed -9 under a load of purchases, down
# for 6 s, then started again (deploy/kafka.sh). Purchases whose event the
# broker cannot take are answered 503 after the delivery timeout (5 s + 2 s
# of slack in the pipeline's nginx) and their seats released; purchases go
# back to 200 once the broker is back (a new producer if librdkafka's
# idempotence state broke); every 200 is exactly one row, no 503 is one,
# and `seckill check` is green. Course 330.
use strict;
use warnings;
use lib 't/lib';
use SeckillTest qw(need_pipeline svc svc_pid sale_under_load load_stop
                   codes_of wait_green verify_answers);
use Test::More;
use Time::HiRes qw(sleep time);

need_pipeline();

my $course = 330;
my $seats = 100_000;

END { svc('kafka', 'start') }

my $load = sale_under_load($course, $seats, workers => 6);
sleep 1.5;
my $pid = svc_pid('kafka');
ok($pid && kill('KILL', $pid), 'the broker is killed');
my $down = time;
sleep 6;
ok(svc('kafka', 'start'), 'and started again');
my $up = time;
# the producers and the consumer find it again
sleep 4;
my $answers = load_stop($load, 2);
my $codes = codes_of($answers);

ok(($codes->{503} // 0) > 0, "purchases answered 503 while the broker was away ($codes->{503})");
my @slow = grep { $_->{code} == 503 && $_->{secs} > 9 } @$answers;
is(scalar @slow, 0, 'each 503 within the delivery timeout and its slack');
is(scalar(grep { $_->{code} != 200 && $_->{code} != 503 } @$answers), 0, 'only 200 and 503');
my @after = grep { $_->{sent} > $up + 4 } @$answers;
my $last = (sort { $a <=> $b } map { $_->{at} } @$answers)[-1];
my @end = grep { $_->{sent} > $last - 1 } @$answers;
ok(@after > 0 && grep({ $_->{code} == 200 } @after) && !grep({ $_->{code} != 200 } @end),
   scalar(@after) . ' purchases after the broker is back: answered 200 again')
    or diag explain codes_of(\@after);

wait_green(60, $course);
verify_answers($answers, $course, $seats);

done_testing();
