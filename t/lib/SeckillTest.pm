package SeckillTest;

# The helpers of every test file in t/: the test stack of t/run.sh (Redis,
# MariaDB, Kafka, the CLI, the pipeline's nginx and consumer, deploy/*.sh),
# test courses made and dropped, plain HTTP requests, a private nginx with
# the module, the block defaults of the Test::Nginx files, and the fault
# suite's load of purchases with its end-of-case verdict.
#
# Each file imports what it uses: `use lib 't/lib'; use SeckillTest qw(...);`
# (the Test::Nginx files' --- init sections call them as main::NAME).
#
# Every helper leaves $? as it found it and may run twice: the real
# Test::Nginx runs cleanup handlers at the end of run_tests and again from
# its END block, where $? is the file's exit status. What a helper starts
# in the background (a load, a private nginx, a test consumer) is stopped
# when the file ends, however it ends, after the file's own END blocks.

use strict;
use warnings;

use Exporter 'import';
use File::Temp ();
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();
use Test::More ();
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(
    need_pipeline need_nginx need_cli env_of
    run cli cli_ok redis redis_at redis_masters redis_owner sql svc svc_pid
    now_ms course pending settle drop_courses plant status_of statuses_of
    http http_from response_of ready block_defaults
    wait_for alive log_has log_mark log_since wait_error_log
    nginx_start nginx_stop nginx_workers stall_redis
    kcat_produce kcat_read
    sale_under_load load_start load_stop codes_of wait_green verify_answers
    fault_consumer fault_consumer_stop
);

# Undone at exit, last registered first, by the process that registered
# it (not by a forked child that exits); one that fails does not stop the
# others.
my @AT_EXIT;

sub _at_exit { push @AT_EXIT, [$$, @_] }

END {
    local $?;
    for my $undo (reverse @AT_EXIT) {
        my ($pid, $code) = @$undo;
        next if $pid != $$;
        eval { $code->(); 1 } or warn "SeckillTest: at exit: $@";
    }
}

# --- the test stack ---------------------------------------------------------

# What t/run.sh exports, by what it is.
my %E = (
    redis => $ENV{TEST_NGINX_REDIS_PORT},
    mysql => $ENV{TEST_NGINX_MYSQL_PORT},
    kafka => $ENV{TEST_NGINX_KAFKA_PORT},
    cli   => $ENV{TEST_NGINX_SECKILL_CLI},
    conf  => $ENV{TEST_NGINX_SECKILL_CONF},
    url   => $ENV{SECKILL_URL},
    run   => $ENV{SECKILL_RUN},
    top   => $ENV{SECKILL_TOP},
);
$E{deploy} = "$E{top}/deploy" if $E{top};
$E{log} = "$E{run}/log" if $E{run};

sub env_of { return $E{ $_[0] } }

# Skips the file unless t/run.sh's whole stack is there.
sub need_pipeline {
    for my $k (qw(redis mysql kafka cli conf url run top)) {
        Test::More::plan(skip_all => "needs the pipeline of t/run.sh (no $k: SECKILL_URL, "
                                     . "SECKILL_RUN, SECKILL_TOP, TEST_NGINX_*)")
            unless $E{$k};
    }
    $| = 1;
}

# Skips the file unless a private nginx with the module can start on the
# test stack (nginx_start).
sub need_nginx {
    for my $var (qw(TEST_NGINX_BINARY TEST_NGINX_LOAD_MODULES
                    TEST_NGINX_REDIS_PORT TEST_NGINX_KAFKA_PORT)) {
        Test::More::plan(skip_all => "$var is not set (see t/README)") unless $ENV{$var};
    }
}

# A Test::Nginx file has its plan already: it stops instead of skipping.
sub need_cli {
    die "TEST_NGINX_SECKILL_CLI and TEST_NGINX_SECKILL_CONF are not set: "
        . "run this file through `make test` (t/README)\n"
        unless $E{cli} && $E{conf};
}

# --- commands ---------------------------------------------------------------

# A command's (exit status, output): stdout and stderr together, stdin
# /dev/null (a command that asks at a terminal must not wait for one). A
# leading hash sets (undef: removes) environment variables for it.
sub run {
    my $env = ref $_[0] eq 'HASH' ? shift : {};
    return _run({ env => $env, stderr => 1 }, @_);
}

sub _run {
    my ($o, @cmd) = @_;
    local $?;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        while (my ($k, $v) = each %{ $o->{env} // {} }) {
            defined $v ? ($ENV{$k} = $v) : delete $ENV{$k};
        }
        open STDIN, '<', $o->{stdin} // '/dev/null' or POSIX::_exit(126);
        if ($o->{stderr}) {
            open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
        }
        # never die here: this copy of the test would run its END blocks
        exec { $cmd[0] } @cmd or print STDERR "exec $cmd[0]: $!\n";
        POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

# The CLI with the test stack's config, or the one of a leading
# ('-c', FILE): (exit status, output).
sub cli {
    my @conf = ('-c', $E{conf});
    @conf = splice(@_, 0, 2) if @_ >= 2 && $_[0] eq '-c';
    return run($E{cli}, @conf, @_);
}

sub cli_ok {
    my ($rc, $out) = cli(@_);
    Test::More::is($rc, 0, "seckill @_") or Test::More::diag($out);
    return $out;
}

# A command to the stack's Redis, following a cluster's redirections (-c
# does nothing on a single Redis).
sub redis {
    return redis_at($E{redis}, '-c', @_);
}

# A command to the Redis on one port, as it is: no redirection followed.
sub redis_at {
    my ($port, @args) = @_;
    my (undef, $out) = _run({}, 'redis-cli', '-p', $port, @args);
    $out =~ s/\n+\z//;
    return $out;
}

# The ports of the masters: every one of a Redis Cluster, else the one Redis.
sub redis_masters {
    my @ports;
    for (split /\n/, redis_at($E{redis}, 'CLUSTER', 'NODES')) {
        my ($port, $flags) = /^\S+ [^\s:]+:(\d+)@\S* (\S+) / or next;
        push @ports, $port if $flags =~ /\bmaster\b/ && $flags !~ /\bfail\b/;
    }
    return @ports ? sort { $a <=> $b } @ports : ($E{redis});
}

# The port of the master that owns a course's slot, as the cluster says
# now (a master killed keeps its slots until they are given away); the one
# Redis when it is not a cluster.
sub redis_owner {
    my ($course) = @_;
    my $nodes = redis_at($E{redis}, 'CLUSTER', 'NODES');
    return $E{redis} if $nodes !~ /master/;
    my $slot = redis('CLUSTER', 'KEYSLOT', "seckill:{c$course}");
    for my $line (split /\n/, $nodes) {
        my @f = split ' ', $line;
        next unless @f > 8 && $f[2] =~ /master/ && $f[1] =~ /:(\d+)@/;
        my $port = $1;
        for (@f[8 .. $#f]) {
            return $port if /^(\d+)(?:-(\d+))?$/ && $slot >= $1 && $slot <= ($2 // $1);
        }
    }
    return;
}

sub sql {
    my ($query) = @_;
    my (undef, $out) = _run({}, 'mariadb', '--no-defaults', '-h127.0.0.1', "-P$E{mysql}",
                            '-useckill', 'seckill', '-N', '-B', '-e', $query);
    $out =~ s/\n+\z//;
    return $out;
}

# deploy/SERVICE.sh ACTION, its output kept in run/log/fault-suite.log (a
# file, not a pipe: the daemons it starts keep what they inherit); true when
# it succeeded.
sub svc {
    my ($service, $action) = @_;
    local $?;
    my $rc = system("'$E{deploy}/$service.sh' $action >>'$E{log}/fault-suite.log' 2>&1 </dev/null");
    Test::More::diag("deploy/$service.sh $action failed (see $E{log}/fault-suite.log)")
        if $rc != 0;
    return $rc == 0;
}

sub svc_pid {
    my ($service) = @_;
    open my $fh, '<', "$E{run}/$service.pid" or return;
    my $pid = <$fh>;
    return unless defined $pid;
    chomp $pid;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# --- courses and orders -----------------------------------------------------

sub now_ms { return int(time() * 1000) }

# A course on sale in Redis, from `from` until `to` (ms from now: a minute
# ago and an hour ahead unless told), anything of a course with this id
# removed first. listed => 1: in the catalogue as `seckill load` leaves a
# course, a row in MariaDB and in seckill:courses (what the sweeper,
# `seckill check` and the consumer's metrics look at).
sub course {
    my ($id, $seats, %o) = @_;
    my $now = now_ms();
    my ($from, $to) = ($now + ($o{from} // -60_000), $now + ($o{to} // 3_600_000));
    _remove($id);
    if ($o{listed}) {
        sql("INSERT INTO courses (id, name, total, starts_at, ends_at) VALUES "
            . "($id, 'Test course $id', $seats, $from, $to)");
    }
    redis('HSET', "seckill:{c$id}", name => "Test course $id", total => $seats,
          remaining => $seats, starts_at => $from, ends_at => $to);
    redis('ZADD', 'seckill:courses', $id, $id) if $o{listed};
}

# Reservations of these courses the consumer has not confirmed yet.
sub pending {
    my $n = 0;
    $n += redis('HLEN', "seckill:{c$_}:pending") || 0 for @_;
    return $n;
}

# Waits until the consumer (when t/run.sh runs one) has confirmed what
# these courses have pending; gives up after 5 s without progress. True
# when nothing is left.
sub settle {
    my @ids = @_;
    my ($last, $since) = (-1, time);
    while ((my $left = pending(@ids)) > 0) {
        ($last, $since) = ($left, time) if $left != $last;
        return 0 if time - $since >= 5;
        sleep 0.1;
    }
    return 1;
}

# Every trace of these courses, once settled (the consumer would write a
# row after we deleted it): rows in MariaDB (when there is one), keys in
# Redis, the catalogue's entry. So that `seckill check` sees only real
# courses.
sub drop_courses {
    settle(@_);
    _remove(@_);
}

sub _remove {
    my @ids = @_;
    if ($E{mysql}) {
        my $list = join ',', @ids;
        sql("DELETE FROM orders WHERE course_id IN ($list)");
        sql("DELETE FROM courses WHERE id IN ($list)");
    }
    # a course's keys live on the master of its slot: scan every master
    for my $port (redis_masters()) {
        for my $id (@ids) {
            my @keys = grep { length } split /\n/,
                redis_at($port, '--scan', '--pattern', "seckill:{c$id}*");
            while (my @some = splice @keys, 0, 500) {
                redis_at($port, 'DEL', @some);
            }
        }
    }
    redis('ZREM', 'seckill:courses', @ids);
}

# What the reserve script leaves behind, without the module: a seat taken,
# the user's status key, and (unless success) the pending hash's field.
sub plant {
    my ($course, $user, $order, $status, $ts) = @_;
    redis('HINCRBY', "seckill:{c$course}", 'remaining', -1);
    redis('HSET', "seckill:{c$course}:u:$user", order_id => $order, status => $status, ts => $ts);
    redis('HSET', "seckill:{c$course}:pending", $user, $ts) unless $status eq 'success';
}

sub status_of {
    my ($course, $user) = @_;
    return redis('HGET', "seckill:{c$course}:u:$user", 'status');
}

# The statuses of many users' keys in one redis-cli run: user => status.
sub statuses_of {
    my ($course, @users) = @_;
    my ($fh, $file) = File::Temp::tempfile('seckill-hget-XXXXXX', TMPDIR => 1, UNLINK => 1);
    print $fh "HGET seckill:{c$course}:u:$_ status\n" for @users;
    close $fh;
    # one course, one slot: its master answers them all, no redirection
    my (undef, $out) = _run({ stdin => $file }, 'redis-cli', '-p', redis_owner($course));
    my @got = split /\n/, $out, -1;
    my %status;
    @status{@users} = map { $_ // '' } @got[0 .. $#users];
    return \%status;
}

# --- HTTP and the Test::Nginx blocks ----------------------------------------

# A request to the nginx under test (the Test::Nginx server, a private
# nginx on TEST_NGINX_PORT, or `port`): the status, and in list context the
# body.
sub http {
    my ($code, $body) = http_from(undef, @_);
    return wantarray ? ($code, $body) : $code;
}

# The same from a given local address (127.0.0.2 is this host, and not the
# 127.0.0.1 of the operator's locations): (code, body); code 0 and why when
# nothing answered.
sub http_from {
    my ($from, $method, $path, $port) = @_;
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1',
        PeerPort => $port // ($ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984),
        (defined $from ? (LocalAddr => $from) : ()),
        Timeout => 5)
        or return (0, "connect" . (defined $from ? " from $from" : '') . ": $!");
    print $s "$method $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    return response_of(<$s>);
}

# An HTTP/1.x response as read from the socket: (code, body).
sub response_of {
    my $resp = shift // '';
    my ($code) = $resp =~ m{^HTTP/1\.\d (\d+)};
    my ($body) = $resp =~ /\r\n\r\n(.*)\z/s;
    return ($code // 0, $body // '');
}

# A fresh worker answers purchases once Redis gave it its order ids.
sub ready {
    for (1 .. 150) {
        return if http('GET', '/api/orders/1/1') != 503;
        sleep 0.02;
    }
}

my $LOCATIONS = <<'_EOC_';
    location /api/seckill/ {
        seckill_purchase;
    }
    location /api/orders/ {
        seckill_orders;
    }
_EOC_

# The readiness check of the file's blocks, called from their --- init.
our $Ready;

# The block preprocessor of a Test::Nginx file: a block without an
# http_config of its own runs on the test stack (seckill_redis,
# seckill_redis_password, seckill_kafka_brokers) and its --- init starts
# with `ready`; a block without a config gets the file's. Options:
#   redis, password, kafka  other values (undef: leave the directive out)
#   http                    more http directives after those
#   config                  the config (default: the purchase and order
#                           status locations; undef: none)
#   more_config             more after the default config
#   ready                   a sub (default ready()); 0: none
#   stacks                  { NAME => {options} }: then only a block with
#                           "--- stack: NAME" is changed, with the file's
#                           options overlaid by its stack's (a block without
#                           goes on with the nginx of the block before)
sub block_defaults {
    my (%file) = @_;
    my $stacks = delete $file{stacks};
    &Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        my %o = %file;
        if ($stacks) {
            my $stack = $block->stack or return;
            %o = (%o, %{ $stacks->{$stack} // die "no --- stack $stack" });
        }
        if (!defined $block->http_config) {
            my %d = (redis => "127.0.0.1:$E{redis}", password => $ENV{TEST_NGINX_REDIS_PASSWORD},
                     kafka => "127.0.0.1:$E{kafka}", %o);
            my @http = ("seckill_redis $d{redis};");
            push @http, "seckill_redis_password $d{password};" if defined $d{password};
            push @http, "seckill_kafka_brokers $d{kafka};" if defined $d{kafka};
            push @http, split /\n/, $d{http} if defined $d{http};
            $block->set_value(http_config => join '', map { /^\s/ ? "$_\n" : "    $_\n" } @http);
            my $ready = $o{ready} // \&ready;
            if ($ready) {
                $Ready = $ready;
                $block->set_value(init => "\$SeckillTest::Ready->();\n" . ($block->init // ''));
            }
        }
        if (!defined $block->config) {
            my $config = exists $o{config} ? $o{config} : $LOCATIONS . ($o{more_config} // '');
            $block->set_value(config => $config) if defined $config;
        }
    });
}

# --- waiting, processes, logs -----------------------------------------------

# Polls $test->() every $every seconds (0.2) for up to $secs; true when it
# held.
sub wait_for {
    my ($secs, $test, $every) = @_;
    my $deadline = time + $secs;
    while (1) {
        return 1 if $test->();
        return 0 if time >= $deadline;
        sleep($every // 0.2);
    }
}

# Not a zombie: PID 1 reaps orphans late, and a zombie answers kill 0.
sub alive {
    my ($pid) = @_;
    return 0 unless $pid && kill 0, $pid;
    open my $st, '<', "/proc/$pid/stat" or return 1;
    return (<$st> // '') !~ /^\d+ \(.*\) Z /s;
}

# A line of the file matches $re.
sub log_has {
    my ($file, $re) = @_;
    open my $fh, '<', $file or return 0;
    while (my $line = <$fh>) {
        return 1 if $line =~ $re;
    }
    return 0;
}

# Size of a log file now, and what was appended since.
sub log_mark {
    my ($file) = @_;
    return -s $file // 0;
}

sub log_since {
    my ($file, $mark) = @_;
    open my $fh, '<', $file or return '';
    seek $fh, $mark, 0;
    local $/;
    return <$fh> // '';
}

# Waits up to 5 s for a line of the Test::Nginx server's error log to
# match (what a worker logs as it starts, before any request of the block
# could show it); true when one does.
sub wait_error_log {
    my ($re) = @_;
    return wait_for(5, sub { log_has("$ENV{TEST_NGINX_SERVROOT}/logs/error.log", $re) }, 0.05);
}

# --- a private nginx, Redis stalled -----------------------------------------

# A private nginx with the module, a master and `workers` workers (2) as in
# production, on TEST_NGINX_PORT (or `port`), on the test stack's Redis and
# Kafka (or `redis`/`kafka` host:port), with the http directives given in
# `http` (e.g. "seckill_kafka_timeout 1s;"). Returns {url, dir, pid,
# error_log} once every worker has its order ids, or nothing.
sub nginx_start {
    my (%o) = @_;
    local $?;
    my $workers = $o{workers} // 2;
    my $port = $o{port} // ($ENV{TEST_NGINX_PORT} || 1984);
    my $redis = $o{redis} // "127.0.0.1:$E{redis}";
    my $kafka = $o{kafka} // "127.0.0.1:$E{kafka}";
    my $dir = File::Temp::tempdir('seckill-nginx-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    mkdir "$dir/$_" for qw(logs conf);
    open my $conf, '>', "$dir/conf/nginx.conf" or die "nginx.conf: $!";
    print $conf <<"_EOC_";
load_module $ENV{TEST_NGINX_LOAD_MODULES};
worker_processes $workers;
daemon on;
master_process on;
error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
@{[ $> == 0 ? 'user root;' : '' ]}
events {
    worker_connections 1024;
}
http {
    access_log off;
    client_body_temp_path $dir/body;
    seckill_redis $redis;
    seckill_redis_password $ENV{TEST_NGINX_REDIS_PASSWORD};
    seckill_kafka_brokers $kafka;
    @{[ $o{http} // '' ]}
    server {
        listen 127.0.0.1:$port backlog=512;
        location /api/seckill/ {
            seckill_purchase;
        }
    }
}
_EOC_
    close $conf;
    my $nginx = $ENV{TEST_NGINX_BINARY} || $ENV{SECKILL_NGINX_BINARY} || '/usr/sbin/nginx';
    system($nginx, '-p', "$dir/", '-c', "$dir/conf/nginx.conf", '-e', "$dir/logs/error.log") == 0
        or return;
    my $n = { url => "http://127.0.0.1:$port", dir => $dir, error_log => "$dir/logs/error.log" };
    _at_exit(sub { nginx_stop($n) });
    wait_for(10, sub {
        open my $fh, '<', "$dir/logs/nginx.pid" or return 0;
        chomp($n->{pid} = <$fh> // '');
        return $n->{pid} =~ /^\d+$/;
    }, 0.05) or return;
    wait_for(10, sub {
        open my $log, '<', $n->{error_log} or return 0;
        return (grep { /order ids from/ } <$log>) >= $workers;
    }, 0.05) or return;
    return $n;
}

# the live worker processes of the master pid
sub nginx_workers {
    my ($master) = @_;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        push @kids, $1 if $line =~ /^(\d+) \(nginx\) [^Z] (\d+) / && $2 == $master;
    }
    return @kids;
}

# QUIT, and KILL what is left after 10 s
sub nginx_stop {
    my ($n) = @_;
    return unless $n && $n->{pid};
    my $pid = delete $n->{pid};
    kill 'QUIT', $pid;
    wait_for(10, sub { !alive($pid) }, 0.05) or kill 'KILL', $pid;
    kill 'KILL', nginx_workers($pid);
}

# Redis runs one script at a time: one in a child process keeps it busy for
# $ms; returns the child's pid once the script runs.
sub stall_redis {
    my $ms = shift;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        redis('EVAL', "local t = redis.call('TIME') "
              . "local s = t[1] * 1000000 + t[2] "
              . "repeat t = redis.call('TIME') "
              . "until t[1] * 1000000 + t[2] - s > $ms * 1000", 0);
        POSIX::_exit(0);
    }
    sleep 0.1;
    return $pid;
}

# --- Kafka ------------------------------------------------------------------

# kcat -P: each value one message with the key given, to the topic given,
# to the partition given (undef: kcat's, i.e. librdkafka's, partitioner).
sub kcat_produce {
    my ($topic, $key, $partition, @values) = @_;
    local $?;
    open my $k, '|-', 'kcat', '-P', '-q', '-b', "127.0.0.1:$E{kafka}", '-t', $topic,
        (defined $partition ? ('-p', $partition) : ()), '-K', "\t" or die "kcat: $!";
    print $k "$key\t$_\n" for @values;
    close $k;
    return $? == 0;
}

# The messages of a topic as "key value" lines, from the beginning or from
# `since` (ms, the messages' timestamps).
sub kcat_read {
    my ($topic, %o) = @_;
    my (undef, $out) = _run({}, 'kcat', '-C', '-q', '-b', "127.0.0.1:$E{kafka}", '-t', $topic,
                            '-o', (defined $o{since} ? "s\@$o{since}" : 'beginning'), '-e',
                            '-f', '%k %s\n');
    return split /\n/, $out;
}

# --- the fault suite: a load of purchases, the verdict ----------------------

# A fault case's sale: a listed course of $seats seats and a load of
# purchases on it (load_start's options). At exit the load is stopped,
# then the course dropped.
sub sale_under_load {
    my ($course, $seats, %o) = @_;
    course($course, $seats, listed => 1);
    _at_exit(sub { drop_courses($course) });
    return load_start(courses => [$course], %o);
}

# Background purchases: `workers` processes, each POSTing one distinct user
# after another (keep-alive, pause seconds between requests) to the courses
# given, round robin, until load_stop or `seconds`. Every answer is
# recorded: course, user, HTTP status (599: no answer, as HTTP::Tiny says
# for a connection reset or refused), order id, when it was sent and
# answered (epoch seconds) and the seconds taken.
sub load_start {
    my (%o) = @_;
    my $courses = $o{courses} or die 'courses';
    my $workers = $o{workers} // 4;
    my $seconds = $o{seconds} // 60;
    my $pause = $o{pause} // 0.005;
    my $url = $o{url} // $E{url};
    my $base = $o{users_from} // 1_000_000;
    my $dir = File::Temp::tempdir('seckill-load-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my @pids;

    for my $w (0 .. $workers - 1) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my $http = HTTP::Tiny->new(keep_alive => 1, timeout => $o{timeout} // 20,
                                       agent => 'seckill-fault-suite');
            open my $out, '>', "$dir/answers.$w" or POSIX::_exit(2);
            select((select($out), $| = 1)[0]);
            my $deadline = time + $seconds;
            for (my $i = 0; time < $deadline && !-e "$dir/stop"; $i++) {
                my $course = $courses->[ ($i + $w) % @$courses ];
                my $user = $base + $w * 1_000_000 + $i;
                my $t0 = time;
                my $res = $http->post("$url/api/seckill/$course/$user");
                my ($order) = ($res->{content} // '') =~ /"order_id":(\d+)/;
                my $t1 = time;
                printf $out "%s %s %d %s %.3f %.3f\n", $course, $user, $res->{status},
                       $order // 0, $t1 - $t0, $t1;
                sleep $pause if $pause;
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    my $load = { dir => $dir, pids => \@pids, workers => $workers, started => time };
    _at_exit(sub { load_stop($load) });
    return $load;
}

# Stops the load (at once, or after $after seconds), notes how many answers
# had each code, and returns them: [{course, user, code, order, secs, sent,
# at}]. Again (or on undef): what the first call returned.
sub load_stop {
    my ($load, $after) = @_;
    return [] unless $load;
    return $load->{answers} if $load->{answers};
    local $?;
    sleep $after if $after;
    if (open my $stop, '>', "$load->{dir}/stop") {
        close $stop;
    }
    waitpid $_, 0 for @{ $load->{pids} };
    my @answers;
    for my $w (0 .. $load->{workers} - 1) {
        open my $in, '<', "$load->{dir}/answers.$w" or next;
        while (my $line = <$in>) {
            my ($course, $user, $code, $order, $secs, $at) = split ' ', $line;
            next unless defined $at;
            push @answers, { course => $course, user => $user, code => $code,
                             order => $order, secs => $secs, sent => $at - $secs, at => $at };
        }
    }
    Test::More::note(Test::More::explain(codes_of(\@answers)));
    return $load->{answers} = \@answers;
}

sub codes_of {
    my ($answers) = @_;
    my %codes;
    $codes{ $_->{code} }++ for @$answers;
    return \%codes;
}

# `seckill check` green and nothing pending in the courses given, within
# $secs. Returns true, or fails with check's output.
sub wait_green {
    my ($secs, @courses) = @_;
    my ($rc, $out, $pending) = (1, '', -1);
    my $ok = wait_for($secs, sub {
        return 0 if ($pending = pending(@courses));
        ($rc, $out) = cli('check');
        return $rc == 0;
    });
    Test::More::ok($ok, "seckill check green and nothing pending within ${secs}s")
        or Test::More::diag("pending: $pending; check: $out");
    return $ok;
}

# The end of every case: each 200 is exactly one row with the order id it
# was told; no answered non-200 is a row; rows of unanswered requests (the
# connection died before the answer) may go either way; no oversell.
sub verify_answers {
    my ($answers, $course, $total) = @_;
    my %rows;
    for my $line (split /\n/, sql("SELECT user_id, order_id FROM orders WHERE course_id = $course")) {
        my ($user, $order) = split /\t/, $line;
        $rows{$user}{$order}++;
    }
    my (@missing, @wrong, @phantom, %said);
    for my $a (grep { $_->{course} == $course } @$answers) {
        $said{ $a->{user} } = $a;
        if ($a->{code} == 200) {
            if (!$rows{ $a->{user} }) {
                push @missing, "$a->{user} (order $a->{order})";
            } elsif (!$rows{ $a->{user} }{ $a->{order} }) {
                push @wrong, "$a->{user}: told $a->{order}, row " . join(',', keys %{ $rows{ $a->{user} } });
            }
        } elsif ($a->{code} != 599 && $rows{ $a->{user} }) {
            push @phantom, "$a->{user} (answered $a->{code})";
        }
    }
    my @stranger = grep { !$said{$_} } keys %rows;
    my $n_rows = keys %rows;
    my $n_ok = grep { $_->{course} == $course && $_->{code} == 200 } @$answers;
    Test::More::is(scalar @missing, 0, "course $course: every 200 ($n_ok) has its row")
        or Test::More::diag("missing: @missing[0 .. ($#missing < 9 ? $#missing : 9)]");
    Test::More::is(scalar @wrong, 0, "course $course: with the order id it was told")
        or Test::More::diag("@wrong");
    Test::More::is(scalar @phantom, 0, "course $course: no row for a request answered otherwise")
        or Test::More::diag("@phantom");
    Test::More::is(scalar @stranger, 0, "course $course: no row nobody asked for")
        or Test::More::diag("@stranger");
    Test::More::ok($n_rows <= $total, "course $course: $n_rows rows <= $total seats");
    my $dups = sql("SELECT COUNT(*) FROM (SELECT 1 FROM orders WHERE course_id = $course"
                   . " GROUP BY user_id HAVING COUNT(*) > 1) d");
    Test::More::is($dups, 0, "course $course: one row per user");
    return $n_rows;
}

# A second consumer daemon with test settings over the stack's config
# (sweeper every second, orphans older than 8 s: above the pipeline nginx's
# 5 s delivery timeout + 2 s), in the same group, with its own log
# run/log/consumer-NAME.log and pid file run/consumer-NAME.pid. Returns its
# pid once it is up. The stack's consumer is left as it is (stop it with
# svc('consumer', 'stop') for this one to have every partition).
sub fault_consumer {
    my ($name, %set) = @_;
    local $?;
    %set = (sweep_after_ms => 8000, sweep_interval_ms => 1000, %set,
            log_file => "../log/consumer-$name.log");
    open my $in, '<', $E{conf} or die "$E{conf}: $!";
    my $conf = "$E{run}/conf/consumer-$name.conf";
    open my $out, '>', $conf or die "$conf: $!";
    while (my $line = <$in>) {
        my ($key) = $line =~ /^\s*(\w+)\s*=/;
        print $out $line unless $key && exists $set{$key};
    }
    print $out "$_ = $set{$_}\n" for sort keys %set;
    close $out;
    my $bin = "$E{cli}-consumer";
    my $pidfile = "$E{run}/consumer-$name.pid";
    my $log = "$E{log}/consumer-$name.log";
    unlink $pidfile;
    # Twice forked: not our child, so never our zombie.
    my $child = fork // die "fork: $!";
    if ($child == 0) {
        POSIX::setsid();
        defined(my $pid = fork) or POSIX::_exit(1);
        POSIX::_exit(0) if $pid;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$E{log}/consumer-$name.out";
        open STDERR, '>&', \*STDOUT;
        exec($bin, '-c', $conf, '--pid-file', $pidfile) or POSIX::_exit(127);
    }
    waitpid $child, 0;
    my $pid;
    my $ok = wait_for(30, sub {
        $pid = svc_pid("consumer-$name");
        return $pid && log_has($log, qr/started \(pid $pid,/);
    });
    my $started = $pid;
    _at_exit(sub { fault_consumer_stop($started) });
    Test::More::diag("the test consumer $name did not start (see $log)") unless $ok;
    return $ok ? $pid : undef;
}

# TERM (the daemon finishes its batch and leaves the group), KILL after 30 s.
sub fault_consumer_stop {
    my ($pid) = @_;
    return unless $pid && alive($pid);
    kill 'CONT', $pid;
    kill 'TERM', $pid;
    wait_for(30, sub { !alive($pid) }) or kill 'KILL', $pid;
    wait_for(5, sub { !alive($pid) });
}

1;
