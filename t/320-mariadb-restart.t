# Fault suite: MariaDB stopped for a few seconds under a load of purchases
# (deploy/mariadb.sh stop, start). Purchases do not depend on it: they go
# on being answered 200 meanwhile; the consumer pauses, retries, commits no
# offset and drops nothing, so once MariaDB is back every 200 is exactly one
# row and `seckill check` is green. Course 320.
use strict;
use warnings;
use lib 't/lib';
use SeckillTest qw(need_pipeline svc sale_under_load load_stop codes_of
                   wait_green verify_answers);
use Test::More;
use Time::HiRes qw(sleep time);

need_pipeline();

my $course = 320;
my $seats = 100_000;

END { svc('mariadb', 'start') }

my $load = sale_under_load($course, $seats, workers => 4);
sleep 1.5;
ok(svc('mariadb', 'stop'), 'MariaDB stops under load');
my $down = time;
sleep 3;
my $up = time;
ok(svc('mariadb', 'start'), 'and starts again');

my $answers = load_stop($load, 1.5);
my $codes = codes_of($answers);
my @meanwhile = grep { $_->{sent} > $down && $_->{at} < $up } @$answers;
ok(@meanwhile > 20, scalar(@meanwhile) . ' purchases answered while MariaDB was down');
is(scalar(grep { $_->{code} != 200 } @meanwhile), 0, 'all of them 200');
is(scalar(grep { $_->{code} != 200 } @$answers), 0, 'every purchase answered 200');

wait_green(60, $course);
verify_answers($answers, $course, $seats);

done_testing();
