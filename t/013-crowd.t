# A crowd on one course: 100 clients at once for 50 seats get exactly 50
# answers 200 and 410 for the rest, and the topic has exactly the 50 order
# events; one user hammering a URL gets one seat and 409 for the rest.
# nginx runs as in production here (master, two workers sharing the
# sold-out cache), started by this file.  Courses 131 and 132.
use strict;
use warnings;
use File::Temp ();
use IO::Socket::INET;
use POSIX ();
use Test::More;
use lib 't/lib';
use SeckillTest qw(need_nginx redis course drop_courses response_of
                   nginx_start kcat_read);
use Time::HiRes ();

need_nginx();

my $port = $ENV{TEST_NGINX_PORT} || 1984;
my $dir = File::Temp::tempdir('seckill-crowd-XXXXXX', TMPDIR => 1,
                              CLEANUP => 1);

# the events of a course produced since $since (ms): order id => value
sub events {
    my ($course, $since) = @_;
    my %events;
    for my $line (kcat_read('seckill.orders')) {
        my ($key, $value) = split / /, $line, 2;
        next unless $key eq $course
            && $value =~ /"order_id":(\d+),.*"ts":(\d+)\}$/ && $2 >= $since;
        $events{$1} = $value;
    }
    return \%events;
}

# $n clients connect, then all send at once; returns [code, body] each
sub crowd {
    my ($n, $path_of) = @_;
    pipe my $go_r, my $go_w or die "pipe: $!";
    my @kids;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $go_w;
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => $port, Timeout => 10)
                or POSIX::_exit(2);
            sysread $go_r, my $byte, 1;
            print $s "POST " . $path_of->($i)
                     . " HTTP/1.1\r\nHost: localhost\r\nConnection: close"
                     . "\r\nContent-Length: 0\r\n\r\n";
            local $/;
            my $resp = <$s> // '';
            open my $out, '>', "$dir/answer.$i" or POSIX::_exit(3);
            print $out $resp;
            close $out;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    close $go_r;
    Time::HiRes::sleep(0.3);
    close $go_w;
    waitpid $_, 0 for @kids;

    my @answers;
    for my $i (1 .. $n) {
        open my $in, '<', "$dir/answer.$i" or do { push @answers, [0, '']; next };
        local $/;
        push @answers, [response_of(<$in>)];
        unlink "$dir/answer.$i";
    }
    return @answers;
}

my $nginx;
END { drop_courses(131, 132) }

ok($nginx = nginx_start(workers => 2),
   'nginx starts with two workers, each with its order ids');

my $since = int(Time::HiRes::time() * 1000);

course(131, 50);

my @answers = crowd(100, sub { "/api/seckill/131/" . (1000 + $_[0]) });
my %codes;
$codes{ $_->[0] }++ for @answers;

is($codes{200} // 0, 50, '50 answers 200');
is($codes{410} // 0, 50, '50 answers 410 sold_out');
is(scalar(keys %codes), 2, 'and nothing else')
    or diag explain \%codes;

my %won;
for my $i (0 .. $#answers) {
    next unless $answers[$i][0] == 200;
    my ($order) = $answers[$i][1] =~
        /^\{"status":"pending","order_id":(\d+),"course_id":131,"user_id":${\ (1001 + $i)}\}$/;
    $won{$order // 'malformed'} = 1001 + $i;
}
is(scalar(keys %won), 50, 'every 200 carries its own order id');

is(redis('HGET', 'seckill:{c131}', 'remaining'), 0, 'Redis: no seat left');
my @orders = split /\n/, redis('KEYS', 'seckill:{c131}:u:*');
is(scalar @orders, 50, 'Redis: 50 orders');

my $held = grep {
    redis('HGET', "seckill:{c131}:u:$won{$_}", 'order_id') eq $_
} keys %won;
is($held, 50, "each winner's status key holds the order id answered");

my $events = events(131, $since);
is(scalar(keys %$events), 50, '50 order events on the topic for the course');
is(join(',', sort keys %$events), join(',', sort keys %won),
   'exactly the orders answered 200');
my $right = grep {
    $events->{$_} =~ /^\{"order_id":$_,"course_id":131,"user_id":$won{$_},"ts":\d{13}\}$/
} keys %won;
is($right, 50, 'each event says who bought what');

# the original `ab -n ... -c ...` on one URL: one user, one seat
course(132, 10);

@answers = crowd(50, sub { "/api/seckill/132/7" });
%codes = ();
$codes{ $_->[0] }++ for @answers;

is($codes{200} // 0, 1, 'one user hammering one URL: one 200');
is($codes{409} // 0, 49, 'and 409 duplicate for the rest')
    or diag explain \%codes;

my ($order) = map { $_->[1] =~ /"order_id":(\d+)/ } grep { $_->[0] == 200 } @answers;
my $same = grep { $_->[0] == 409 && $_->[1] =~ /"order_id":$order,/ } @answers;
is($same, 49, 'every 409 names the order held');
is(redis('HGET', 'seckill:{c132}', 'remaining'), 9, 'one seat taken');
is(scalar(keys %{ events(132, $since) }), 1, 'one event on the topic');

open my $log, '<', $nginx->{error_log} or die "error.log: $!";
my @errors = grep { /\[(error|crit|alert|emerg)\]/ } <$log>;
is(scalar @errors, 0, 'no error logged') or diag @errors;

done_testing();
