# The replicated Kafka cluster (SECKILL_KAFKA_NODES=3) under a flash crowd,
# on a stack of its own made by deploy/stack.sh as `make run` makes one
# (its own SECKILL_RUN, ports 100 above the test stack's: Redis, MariaDB,
# three brokers, the consumer, nginx). The topic is replicated three times
# with two in sync; one broker is killed -9 mid-sale, the sale goes on on
# the other two once the controllers have fenced it, and the broker comes
# back. Every 200 is exactly one row, no 503 is one, `seckill check` green.
use strict;
use warnings;
use lib 't/lib';
use File::Path ();
use Test::More;
use Time::HiRes qw(sleep time);

plan skip_all => 'needs the test stack of t/run.sh (SECKILL_RUN, SECKILL_TOP)'
    unless $ENV{SECKILL_RUN} && $ENV{SECKILL_TOP} && $ENV{TEST_NGINX_REDIS_PORT};

my $top = $ENV{SECKILL_TOP};
my $log = "$ENV{SECKILL_RUN}/log/kafka-cluster.log";
my $run = "$ENV{SECKILL_RUN}/kafka-cluster";
my %stack = (
    SECKILL_RUN => $run, SECKILL_KAFKA_NODES => 3,
    SECKILL_HTTP_PORT => $ENV{SECKILL_HTTP_PORT} + 100,
    SECKILL_MYSQL_PORT => $ENV{SECKILL_MYSQL_PORT} + 100,
    SECKILL_REDIS_PORT => $ENV{SECKILL_REDIS_PORT} + 100,
    SECKILL_KAFKA_PORT => $ENV{SECKILL_KAFKA_PORT} + 100,
    SECKILL_KAFKA_CONTROLLER_PORT => $ENV{SECKILL_KAFKA_CONTROLLER_PORT} + 100,
    SECKILL_KAFKA_HEAP => '384m',
);
@ENV{keys %stack} = values %stack;

my $up_rc = system("sh '$top/deploy/stack.sh' up >'$log' 2>&1");
END {
    my $status = $?;
    system("sh '$top/deploy/stack.sh' down >>'$log' 2>&1") if defined $up_rc;
    $? = $status;
}
is($up_rc, 0, "a stack with three brokers starts (log: $log)")
    or BAIL_OUT('no cluster stack');

# The helpers talk to this stack from here on: its ports and passwords.
my %secret = do {
    open my $fh, '<', "$run/secrets" or die "$run/secrets: $!";
    map { /^(\w+)=(.*)$/ ? ($1, $2) : () } <$fh>;
};
%ENV = (%ENV, REDISCLI_AUTH => $secret{SECKILL_REDIS_PASSWORD},
        MYSQL_PWD => $secret{SECKILL_MYSQL_PASSWORD},
        TEST_NGINX_REDIS_PORT => $stack{SECKILL_REDIS_PORT},
        TEST_NGINX_MYSQL_PORT => $stack{SECKILL_MYSQL_PORT},
        TEST_NGINX_KAFKA_PORT => $stack{SECKILL_KAFKA_PORT},
        TEST_NGINX_SECKILL_CONF => "$run/conf/consumer.conf",
        SECKILL_URL => "http://127.0.0.1:$stack{SECKILL_HTTP_PORT}");
require SeckillTest;
SeckillTest->import(qw(need_pipeline course drop_courses svc svc_pid load_start load_stop
                       codes_of wait_green verify_answers));
need_pipeline();

# every partition of the order topic on three replicas, all in sync
my $meta = qx{kcat -L -b 127.0.0.1:$stack{SECKILL_KAFKA_PORT} -t seckill.orders 2>&1};
my @parts = $meta =~ /partition \d+, leader \d+, replicas: ([\d,]+), isrs: ([\d,]+)/g;
is(scalar(@parts), 12, 'seckill.orders: 6 partitions') or diag $meta;
is(scalar(grep { length($_) == 5 } @parts), 12, '... each with three replicas, three in sync')
    or diag $meta;

my @courses = (431 .. 436);
my $seats = 100_000;
my $load;
END {
    my $status = $?;
    load_stop($load) if $load;
    drop_courses(@courses) if defined &drop_courses;
    $? = $status;
}

course($_, $seats, listed => 1) for @courses;
$load = load_start(courses => \@courses, workers => 6, timeout => 30);
sleep 2;
my $victim = 'kafka-2';
my $pid = svc_pid($victim);
ok($pid && kill('KILL', $pid), "$victim is killed -9 mid-sale");
my $killed = time;
sleep 22;
ok(svc('kafka', 'start'), "$victim is started again");
my $back = time;
sleep 6;
my $answers = load_stop($load, 2);
$load = undef;
my $codes = codes_of($answers);
note explain $codes;

is(scalar(grep { $_->{code} != 200 && $_->{code} != 503 } @$answers), 0, 'only 200 and 503');
# the controllers fence the dead broker within broker.session.timeout.ms
# (9 s): from then on two replicas of three are in sync, enough for acks=all
my @while_down = grep { $_->{sent} > $killed + 12 && $_->{at} < $back } @$answers;
ok(scalar(grep { $_->{code} == 200 } @while_down) > 0,
   'the sale goes on with one broker of three down: '
   . scalar(grep { $_->{code} == 200 } @while_down) . ' purchases answered 200')
    or diag explain codes_of(\@while_down);
my $last = (sort { $a <=> $b } map { $_->{at} } @$answers)[-1];
my @end = grep { $_->{sent} > $last - 1 } @$answers;
ok(@end && !grep({ $_->{code} != 200 } @end), 'and every purchase of the last second is a 200')
    or diag explain codes_of(\@end);

wait_green(90, @courses);
verify_answers($answers, $_, $seats) for @courses;

done_testing();
