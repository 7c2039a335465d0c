# Fault suite: `nginx -s reload` (deploy/nginx.sh reload) twice under a load
# of purchases on the pipeline's nginx. The old workers finish their
# requests and flush their order events to Kafka before they exit: every
# 200 is exactly one row, nothing answered otherwise is one, and nothing is
# left pending for the sweeper (`seckill check` green within 12 s, sooner
# than the stack's sweeper would release an orphan). Course 360.
use strict;
use warnings;
use lib 't/lib';
use SeckillTest qw(need_pipeline svc svc_pid wait_for alive nginx_workers
                   sale_under_load load_stop codes_of wait_green
                   verify_answers);
use Test::More;
use Time::HiRes qw(sleep time);

need_pipeline();

my $course = 360;
my $seats = 100_000;

END { svc('nginx', 'start') }

my $master = svc_pid('nginx');
my $load = sale_under_load($course, $seats, workers => 6);
for my $n (1, 2) {
    sleep 1.5;
    my @old = nginx_workers($master);
    ok(svc('nginx', 'reload'), "reload $n under load");
    ok(wait_for(15, sub { !grep { alive($_) } @old }), 'the old workers exit');
}
my $answers = load_stop($load, 1.5);
my $codes = codes_of($answers);
is(svc_pid('nginx'), $master, 'the same master');
ok(($codes->{200} // 0) > 100, 'purchases answered 200');
is(scalar(grep { $_ != 200 && $_ != 503 && $_ != 599 } keys %$codes), 0,
   'answers are 200, 503 (a new worker without order ids yet) or none');
ok(($codes->{599} // 0) <= 12, 'few without an answer (a keep-alive connection closed as the request came)');

wait_green(12, $course);
verify_answers($answers, $course, $seats);

done_testing();
