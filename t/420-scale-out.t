# Scale-out on one machine: two nginx instances (the pipeline's and a
# private one on another port) and two consumers in one group, all on one
# Redis, one Kafka and one MariaDB. A flash crowd hits both nginx at once
# for a course of 4,000 seats (a few seconds of selling); midway one consumer is killed -9, so its
# partitions rebalance to the other. Once quiet: exactly the stock sold
# (4,000 answers 200 across both nginx, 4,000 rows, the rest 410), every 200
# exactly one row with the order id it was told, `seckill check` green.
# Course 420.
use strict;
use warnings;
use lib 't/lib';
use SeckillTest qw(need_pipeline redis svc svc_pid wait_for nginx_start
                   sale_under_load load_start load_stop codes_of wait_green
                   verify_answers fault_consumer);
use Test::More;
use Time::HiRes qw(sleep);

need_pipeline();

my $course = 420;
my $seats = 4000;
my ($second, $nginx);

END { svc('consumer', 'start') }

ok($second = fault_consumer('second'), 'a second consumer joins the group')
    or do { done_testing(); exit 1 };
ok($nginx = nginx_start(), 'a second nginx with two workers starts')
    or do { done_testing(); exit 1 };

# Two crowds, one per nginx, with users of their own.
my $load_a = sale_under_load($course, $seats, workers => 4, pause => 0.005,
                             users_from => 10_000_000);
my $load_b = load_start(courses => [$course], workers => 4, pause => 0.005,
                        users_from => 50_000_000, url => $nginx->{url});
sleep 1;
my $pid = svc_pid('consumer');
ok($pid && kill('KILL', $pid), "the stack's consumer ($pid) killed -9 midway");

ok(wait_for(60, sub { redis('HGET', "seckill:{c$course}", 'remaining') eq '0' }),
   'the course sells out');
my $answers = [ @{ load_stop($load_a, 0.5) }, @{ load_stop($load_b) } ];
my $codes = codes_of($answers);
is($codes->{200}, $seats, "exactly $seats answered 200 across both nginx");
is(scalar(grep { $_ != 200 && $_ != 410 } keys %$codes), 0, 'every other answer is 410');
my %by_nginx;
$by_nginx{ $_->{user} >= 50_000_000 ? 'b' : 'a' }++ for grep { $_->{code} == 200 } @$answers;
ok(($by_nginx{a} // 0) > 0 && ($by_nginx{b} // 0) > 0,
   "both nginx sold seats (a: @{[ $by_nginx{a} // 0 ]}, b: @{[ $by_nginx{b} // 0 ]})");

# The survivor took over every partition and persisted everything.
wait_green(90, $course);
is(verify_answers($answers, $course, $seats), $seats, "exactly $seats rows: the stock, sold once");

done_testing();
