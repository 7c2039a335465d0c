# The orphan sweeper of the consumer daemon (consumer/daemon/sweeper.h), with
# reservations planted the way the reserve script leaves them:
#  - an old pending reservation with no event (an orphan) is released, a
#    young one only once it is old enough, a claimed one never;
#  - an old pending reservation whose event sits unread in a partition of
#    a frozen group member (SIGSTOP) is never released, however often the
#    other member sweeps; it is persisted once its owner runs again.
# A test consumer (sweeper every 1 s, age 8 s) does the sweeping. Courses
# 300..399 (three of them, chosen by partition).
use strict;
use warnings;
use lib 't/lib';
use Compress::Zlib ();
use SeckillTest qw(need_pipeline env_of redis sql svc svc_pid now_ms course
                   drop_courses plant status_of wait_for alive kcat_produce
                   wait_green fault_consumer fault_consumer_stop);
use Test::More;
use Time::HiRes qw(sleep time);

need_pipeline();

my $partitions = 6;     # topic_partitions of the test stack
my $log = env_of('log');
my ($tester, $frozen);
my @courses;

# librdkafka's default partitioner: CRC32 of the key, modulo the count
sub partition_of { return Compress::Zlib::crc32("$_[0]") % $partitions }

sub restore {
    kill 'CONT', $frozen if $frozen;
    fault_consumer_stop($tester);
    $tester = undef;
    svc('consumer', 'start') unless alive(svc_pid('consumer'));
}

END {
    restore();
    drop_courses(@courses) if @courses;
}

# The partitions a consumer's log says it holds now.
sub held {
    my ($file) = @_;
    open my $fh, '<', $file or return;
    my @held;
    while (my $line = <$fh>) {
        @held = () if $line =~ /revoking \d+ partition/;
        @held = $line =~ /\[(\d+)\]/g if $line =~ /assigned \d+ partition/;
    }
    return @held;
}

my $base = 9_007_199_254_000_000;   # order ids no nginx worker hands out
my $now = now_ms();

# --- 1: orphans by age and status, the test consumer alone in the group

course(300, 10, listed => 1);
push @courses, 300;
ok(svc('consumer', 'stop'), "the stack's consumer stops");
ok($tester = fault_consumer('sweeper'), 'a consumer that sweeps every second starts')
    or do { done_testing(); exit 1 };

plant(300, 1, $base + 1, 'pending', $now - 60_000);   # an orphan
plant(300, 2, $base + 2, 'pending', $now - 2_000);    # young: 6 s to go
plant(300, 3, $base + 3, 'claimed', $now - 60_000);   # the consumer has it
is(redis('HGET', 'seckill:{c300}', 'remaining'), 7, 'three seats held');

ok(wait_for(10, sub { status_of(300, 1) eq 'failed' }), 'the old orphan is released');
my $young_at = now_ms() - ($now - 2_000);
is(status_of(300, 2), 'pending', "the young one is not (it is ${young_at} ms old)")
    if $young_at < 7_000;
is(redis('HEXISTS', 'seckill:{c300}:pending', 1), 0, 'the orphan left the pending set');
ok(wait_for(12, sub { status_of(300, 2) eq 'failed' }), 'the young one once older than 8 s');
is(status_of(300, 3), 'claimed', 'a claimed order is never released');
is(redis('HGET', 'seckill:{c300}', 'remaining'), 9, 'two seats back on sale');
is(redis('HLEN', 'seckill:{c300}:pending'), 1, 'only the claimed one still pending');
redis('HDEL', 'seckill:{c300}:pending', 3);
redis('DEL', 'seckill:{c300}:u:3');
redis('HINCRBY', 'seckill:{c300}', 'remaining', 1);

# --- 2: a partition the group has not caught up on holds the sweep back

ok(svc('consumer', 'start'), "the stack's consumer joins the group again");
my $stock = svc_pid('consumer');
ok(wait_for(30, sub {
    my @mine = held("$log/consumer.log");
    my @other = held("$log/consumer-sweeper.log");
    return @mine && @other && @mine + @other == $partitions;
}), 'the two consumers share the partitions');
my @frozen_parts = held("$log/consumer.log");
my @tester_parts = held("$log/consumer-sweeper.log");
note "stack consumer: partitions @frozen_parts; sweeping consumer: @tester_parts";

# a course on a partition of each
my %on = map { $_ => 1 } @frozen_parts;
my ($behind) = grep { $on{ partition_of($_) } } 301 .. 399;
my ($ahead) = grep { !$on{ partition_of($_) } } 301 .. 399;
unless (@frozen_parts && @tester_parts) {
    done_testing();
    exit 1;
}
course($_, 10, listed => 1) for $behind, $ahead;
push @courses, $behind, $ahead;

kill 'STOP', $stock;
$frozen = $stock;
$now = now_ms();
my $old = $now - 60_000;
# the delivered order of a client told 200 long ago, its event unread
plant($behind, 10, $base + 10, 'pending', $old);
# the same, on a partition the sweeping consumer reads
plant($ahead, 20, $base + 20, 'pending', $old);
# and a real orphan
plant($ahead, 21, $base + 21, 'pending', $old);
for ([$behind, 10], [$ahead, 20]) {
    my ($c, $u) = @$_;
    ok(kcat_produce('seckill.orders', $c, partition_of($c),
                    qq({"order_id":@{[ $base + $u ]},"course_id":$c,"user_id":$u,"ts":$old})),
       "the event of course $c goes to partition " . partition_of($c));
}

ok(wait_for(10, sub { status_of($ahead, 20) eq 'success' }),
   'the running consumer persists the event of its partition');
my $released = 0;
my $t_end = time + 5;
while (time < $t_end) {     # five sweeps
    # (claimed is fine: the group may hand the partition over meanwhile)
    $released++ if status_of($behind, 10) eq 'failed';
    sleep 0.2;
}
is($released, 0, 'the order whose event waits in a frozen partition is not released');

kill 'CONT', $stock;
$frozen = undef;
ok(wait_for(30, sub { status_of($behind, 10) eq 'success' }),
   'persisted once the partition is read again');
ok(wait_for(15, sub { status_of($ahead, 21) eq 'failed' }), 'the true orphan is released');
is(sql("SELECT COUNT(*) FROM orders WHERE course_id IN ($behind, $ahead)"), 2,
   'two rows: the delivered orders');

fault_consumer_stop($tester);
$tester = undef;
ok(wait_green(30, @courses), 'check green');

done_testing();
