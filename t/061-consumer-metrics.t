# The consumer daemon's metrics file (stats_file = ../consumer.prom: the
# run directory of t/run.sh): it is there, in Prometheus' text format, and
# its counters move when orders go through the pipeline (nginx on
# $SECKILL_URL, Kafka, the stack's consumer) and when a malformed message
# goes to the dead-letter topic.  Course 611, removed at the end.
use strict;
use warnings;
use HTTP::Tiny;
use lib 't/lib';
use SeckillTest qw(need_pipeline env_of course drop_courses wait_for
                   kcat_produce);
use Test::More;

need_pipeline();

my $url = env_of('url');
my $file = env_of('run') . '/consumer.prom';
my $course = 611;

# The file as { "name{labels}" => value }, and its text.
sub metrics {
    open my $fh, '<', $file or return ({}, '');
    local $/;
    my $text = <$fh> // '';
    close $fh;
    my %m = map { /^(\S+) (\S+)$/ ? ($1 => $2) : () } grep { !/^#/ } split /\n/, $text;
    return (\%m, $text);
}

END { drop_courses($course) if $url }

ok wait_for(15, sub { -s $file }), "the consumer writes $file"
    or BAIL_OUT("no metrics file: is stats_file in the test stack's consumer.conf?");

# the first file can be written before the group has given it partitions
ok wait_for(30, sub { (metrics())[0]{seckill_consumer_assigned_partitions} }),
    'the consumer has partitions within 30 s';
my ($before, $text) = metrics();
for my $name (qw(seckill_consumer_lag seckill_consumer_batch_size seckill_consumer_paused
                 seckill_consumer_assigned_partitions seckill_consumer_events_total
                 seckill_consumer_orders_total seckill_consumer_dropped_total
                 seckill_consumer_dead_letters_total seckill_consumer_batch_events_count
                 seckill_consumer_commit_seconds_count)) {
    like $before->{$name} // '', qr/^\d+$/, "$name is there";
}
my %type = $text =~ /^# TYPE (\w+) (\w+)$/mg;
is $type{seckill_consumer_commit_seconds}, 'histogram', 'the commit time is a histogram';
is $type{seckill_consumer_batch_events}, 'histogram', 'so are the batch sizes';
is $type{seckill_consumer_lag}, 'gauge', 'the lag is a gauge';
my @samples = grep { !/^#/ } split /\n/, $text;
is scalar(grep { !/^[a-z_]+(\{[a-z]+="[^"]+"(,[a-z]+="[^"]+")*\})? \d+(\.\d+)?$/ } @samples), 0,
    'every sample line is well-formed';
ok !-e "$file.tmp", 'no temporary file left beside it';

# Three orders through nginx, and a malformed message straight to the topic.
course($course, 10, listed => 1);
my $http = HTTP::Tiny->new(timeout => 10);
for my $user (1 .. 3) {
    my $res = $http->post("$url/api/seckill/$course/$user");
    is $res->{status}, 200, "purchase $user: 200" or diag $res->{content};
}
ok kcat_produce('seckill.orders', $course, undef, 'not an order: metrics test'),
    'a malformed message produced';

my $after;
ok wait_for(30, sub {
        ($after) = metrics();
        return ($after->{seckill_consumer_orders_total} // 0)
                   >= $before->{seckill_consumer_orders_total} + 3
               && ($after->{seckill_consumer_dead_letters_total} // 0)
                   >= $before->{seckill_consumer_dead_letters_total} + 1;
    }), 'the counters moved within 30 s'
    or diag explain { before => $before, after => $after };

cmp_ok $after->{seckill_consumer_events_total}, '>=', $before->{seckill_consumer_events_total} + 4,
    'events: the orders and the dead letter';
cmp_ok $after->{seckill_consumer_commit_seconds_count}, '>',
    $before->{seckill_consumer_commit_seconds_count}, 'their transaction timed';
cmp_ok $after->{seckill_consumer_batch_events_count}, '>',
    $before->{seckill_consumer_batch_events_count}, 'their batches counted';
cmp_ok $after->{seckill_consumer_batch_size}, '>', 0, 'the last batch had events';
is $after->{'seckill_consumer_commit_seconds_bucket{le="+Inf"}'},
    $after->{seckill_consumer_commit_seconds_count}, 'commit: _count = the +Inf bucket';
is $after->{seckill_consumer_paused}, 0, 'not paused';

# The sale's live view: each listed course's seats, read from Redis.
my $seats = sub { $after->{"seckill_course_seats{course=\"$course\",state=\"$_[0]\"}"} // '' };
ok wait_for(15, sub { ($after) = metrics(); $seats->('pending') eq '0' }),
    "course $course: nothing pending once persisted";
is $seats->('total'), 10, "course $course: 10 seats in all";
is $seats->('remaining'), 7, '7 remaining after the 3 purchases';
is $type{seckill_course_seats}, 'gauge', 'the seats are a gauge';

done_testing();
