# Fault suite: Redis stopped for 3 s under a load of purchases
# (deploy/redis.sh stop, start). Meanwhile every purchase is answered 503
# at once (nothing reserved), the page is still served; nginx and the
# consumer reconnect by themselves, purchases go back to 200, and every 200
# is exactly one row, nothing else is, `seckill check` is green. Course 340.
use strict;
use warnings;
use lib 't/lib';
use HTTP::Tiny;
use SeckillTest qw(need_pipeline env_of svc sale_under_load load_stop codes_of
                   wait_green verify_answers);
use Test::More;
use Time::HiRes qw(sleep time);

need_pipeline();

my $course = 340;
my $seats = 100_000;

END { svc('redis', 'start') }

my $load = sale_under_load($course, $seats, workers => 4);
sleep 1.5;
ok(svc('redis', 'stop'), 'Redis stops under load');
my $down = time;
sleep 1;
my $page = HTTP::Tiny->new(timeout => 5)->get(env_of('url') . '/');
is($page->{status}, 200, 'the page is served meanwhile');
sleep 2;
my $restart = time;
ok(svc('redis', 'start'), 'and starts again');
my $up = time;
# the workers try again after 100 ms doubling to 2 s
my $answers = load_stop($load, 4);
my $codes = codes_of($answers);

my @meanwhile = grep { $_->{sent} > $down + 0.3 && $_->{at} < $restart } @$answers;
ok(@meanwhile > 20, scalar(@meanwhile) . ' purchases while Redis was down');
is(scalar(grep { $_->{code} != 503 } @meanwhile), 0, 'all answered 503');
my @slow = grep { $_->{secs} > 1 } @meanwhile;
is(scalar @slow, 0, 'each within a second') or diag explain [ @slow[0 .. 2] ];
my @after = grep { $_->{sent} > $up + 2.5 } @$answers;
ok(@after > 0 && !grep({ $_->{code} != 200 } @after),
   scalar(@after) . ' purchases once Redis is back, all 200')
    or diag explain codes_of(\@after);

wait_green(60, $course);
verify_answers($answers, $course, $seats);

done_testing();
