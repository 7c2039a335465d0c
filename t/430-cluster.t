# The clustered stack (SECKILL_REDIS_NODES=3 SECKILL_KAFKA_NODES=3) under a
# flash crowd, on a stack of its own made by deploy/stack.sh as `make run`
# makes one (its own SECKILL_RUN, ports 100 above the test stack's: three
# Redis masters, MariaDB, three brokers, the consumer, nginx). The courses
# of the sale live on all three masters. One after the other, mid-sale:
#
#   1. a broker is killed -9: the topic is replicated three times with two
#      in sync, the sale goes on on the other two, the broker comes back;
#   2. a course's slot is migrated to another master (IMPORTING/MIGRATING,
#      MIGRATE, SETSLOT NODE): its purchases follow the slot;
#   3. a master is killed -9: its courses answer 503, the others sell on;
#      it restarts from its AOF and its courses sell again.
#
# At the end every 200 is exactly one row, no other answer is one, and
# `seckill check` is green.
use strict;
use warnings;
use lib 't/lib';
use File::Temp ();
use Test::More;
use Time::HiRes qw(sleep time);

plan skip_all => 'needs the test stack of t/run.sh (SECKILL_RUN, SECKILL_TOP)'
    unless $ENV{SECKILL_RUN} && $ENV{SECKILL_TOP} && $ENV{TEST_NGINX_REDIS_PORT};

my $top = $ENV{SECKILL_TOP};
my $log = "$ENV{SECKILL_RUN}/log/cluster.log";
my $run = "$ENV{SECKILL_RUN}/cluster";
my %stack = (
    SECKILL_RUN => $run, SECKILL_KAFKA_NODES => 3, SECKILL_REDIS_NODES => 3,
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
is($up_rc, 0, "a stack with three Redis masters and three brokers starts (log: $log)")
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
SeckillTest->import(qw(need_pipeline run course drop_courses svc svc_pid load_start load_stop
                       codes_of wait_green verify_answers redis redis_at redis_masters redis_owner));
need_pipeline();

# --- the topology -----------------------------------------------------------

my @masters = redis_masters();
is(scalar(@masters), 3, 'three Redis masters') or diag "@masters";
like(redis('CLUSTER', 'INFO'), qr/cluster_state:ok/, '... in a cluster whose state is ok');

my %demo_on = map { (redis_owner($_) // 'none') => 1 } 1 .. 6;
ok(keys(%demo_on) > 1 && !$demo_on{none},
   'the demo catalogue lives on more than one master: ' . join(' ', sort keys %demo_on));

# every partition of the order topic on three replicas, all in sync
my $meta = qx{kcat -L -b 127.0.0.1:$stack{SECKILL_KAFKA_PORT} -t seckill.orders 2>&1};
my @parts = $meta =~ /partition \d+, leader \d+, replicas: ([\d,]+), isrs: ([\d,]+)/g;
is(scalar(@parts), 12, 'seckill.orders: 6 partitions') or diag $meta;
is(scalar(grep { length($_) == 5 } @parts), 12, '... each with three replicas, three in sync')
    or diag $meta;

# --- the sale ----------------------------------------------------------------

# slots 11743 7612 3485 15738 11611 7480: all three masters of a cluster
# made by `redis-cli --cluster create`
my @courses = (431 .. 436);
my $seats = 100_000;
my ($load, @answers);
END {
    my $status = $?;
    load_stop($load) if $load;
    drop_courses(@courses) if defined &drop_courses;
    $? = $status;
}

course($_, $seats, listed => 1) for @courses;
my %owner = map { ($_ => redis_owner($_)) } @courses;
my %on = map { ($_ => 1) } values %owner;
is(scalar(keys %on), 3, 'the courses of the sale live on all three masters')
    or diag explain \%owner;

my $phase = 0;
sub sale {
    $load = load_start(courses => \@courses, workers => 6, timeout => 30,
                       users_from => 1_000_000 * (++$phase * 10));
}
sub stop_sale {
    my $answers = load_stop($load, @_);
    $load = undef;
    push @answers, @$answers;
    is(scalar(grep { $_->{code} != 200 && $_->{code} != 503 } @$answers), 0,
       "phase $phase: only 200 and 503") or diag explain codes_of($answers);
    my $last = (sort { $a <=> $b } map { $_->{at} } @$answers)[-1];
    my @end = grep { $_->{sent} > $last - 1 } @$answers;
    ok(@end && !grep({ $_->{code} != 200 } @end),
       "phase $phase: every purchase of its last second is a 200")
        or diag explain codes_of(\@end);
    return $answers;
}
sub ok_during {
    my ($answers, $from, $to, $what, $want) = @_;
    my @in = grep { $_->{sent} > $from && $_->{at} < $to && $want->($_) } @$answers;
    my $n = grep { $_->{code} == 200 } @in;
    ok($n > 0, "$what: $n purchases answered 200") or diag explain codes_of(\@in);
}

# 1. a broker killed -9
sale();
sleep 2;
my $victim = 'kafka-2';
my $pid = svc_pid($victim);
ok($pid && kill('KILL', $pid), "$victim is killed -9 mid-sale");
my $killed = time;
sleep 22;
ok(svc('kafka', 'start'), "$victim is started again");
my $back = time;
sleep 6;
my $answers = stop_sale(2);
# the controllers fence the dead broker within broker.session.timeout.ms
# (9 s): from then on two replicas of three are in sync, enough for acks=all
ok_during($answers, $killed + 12, $back, 'the sale goes on with one broker of three down',
          sub { 1 });

# 2. a slot migrated to another master, its keys moved while it sells
my $moved = 433;
my $slot = redis('CLUSTER', 'KEYSLOT', "seckill:{c$moved}");
my $from = $owner{$moved};
my ($to) = grep { $_ != $from } @masters;
my %id = map { ($_ => redis_at($_, 'CLUSTER', 'MYID')) } $from, $to;

# to a master by its port, the commands on redis-cli's stdin (MIGRATE
# carries the password: never on a command line)
sub redis_script {
    my ($port, @commands) = @_;
    my $in = File::Temp->new;
    print $in "$_\n" for @commands;
    close $in;
    my ($rc, $out) = SeckillTest::_run({ stdin => $in->filename }, 'redis-cli', '-p', $port);
    return $out;
}

sale();
sleep 3;
my $migrating = time;
redis_at($to, 'CLUSTER', 'SETSLOT', $slot, 'IMPORTING', $id{$from});
redis_at($from, 'CLUSTER', 'SETSLOT', $slot, 'MIGRATING', $id{$to});
while (my @keys = grep { length } split /\n/,
       redis_at($from, 'CLUSTER', 'GETKEYSINSLOT', $slot, 200)) {
    redis_script($from, join ' ', 'MIGRATE', '127.0.0.1', $to, '""', 0, 5000,
                 'AUTH', $secret{SECKILL_REDIS_PASSWORD}, 'KEYS', @keys);
    sleep 0.02;
}
redis_at($_, 'CLUSTER', 'SETSLOT', $slot, 'NODE', $id{$to}) for $to, $from;
my $migrated = time;
is(redis_at($from, 'CLUSTER', 'COUNTKEYSINSLOT', $slot), 0,
   "course $moved: every key left master $from");
ok(redis_at($to, 'CLUSTER', 'COUNTKEYSINSLOT', $slot) > 0, "... for master $to");
sleep 4;
$answers = stop_sale(1);
ok_during($answers, $migrated + 1, time + 1, "course $moved sells on master $to",
          sub { $_[0]{course} == $moved });
note sprintf 'migration took %.1f s', $migrated - $migrating;

# 3. a master killed -9
%owner = map { ($_ => redis_owner($_)) } @courses;
# the master with the most courses of the sale, other than the one the
# migrated course went to
my %count;
$count{ $owner{$_} }++ for @courses;
my ($dead) = sort { $count{$b} <=> $count{$a} || $a <=> $b }
             grep { $_ != $owner{$moved} } keys %count;
my ($dead_svc) = grep { (svc_pid($_) // 0) == redis_pid($dead) } qw(redis redis-2 redis-3);
my @dead_courses = grep { $owner{$_} == $dead } @courses;
my @live_courses = grep { $owner{$_} != $dead } @courses;
ok(@dead_courses && @live_courses, "master $dead has courses @dead_courses, the others @live_courses");

sub redis_pid {
    my ($port) = @_;
    my ($pid) = redis_at($port, 'INFO', 'server') =~ /^process_id:(\d+)/m;
    return $pid // -1;
}

sale();
sleep 2;
ok($dead_svc && kill('KILL', svc_pid($dead_svc)), "master $dead ($dead_svc) is killed -9 mid-sale");
my $down = time;
sleep 5;
my $restart = time;
ok(svc('redis', 'start'), "$dead_svc is started again");
my $up = time;
sleep 5;
$answers = stop_sale(1);
my %dead = map { ($_ => 1) } @dead_courses;
my @while = grep { $_->{sent} > $down + 0.5 && $_->{at} < $restart } @$answers;
my @sold = grep { $dead{ $_->{course} } && $_->{code} == 200 } @while;
is(scalar(@sold), 0, "while master $dead is down, its courses are never sold")
    or diag explain [ @sold[0 .. ($#sold < 4 ? $#sold : 4)] ], { down => $down, restart => $restart };
ok_during($answers, $down + 0.5, $restart, 'the other masters\' courses sell on',
          sub { !$dead{ $_[0]{course} } });
ok_during($answers, $up + 2, time + 1, "the courses of master $dead sell again once it is back",
          sub { $dead{ $_[0]{course} } });

wait_green(120, @courses);
verify_answers(\@answers, $_, $seats) for @courses;

done_testing();
