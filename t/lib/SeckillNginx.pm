# Helpers shared by the Test::Nginx files and the pipeline tests of t/0*
# (and, for a private nginx, the fault suite's SeckillTest.pm): Redis and
# MariaDB from the test stack's ports, test courses created and cleaned up,
# a plain HTTP request to the nginx under test, a private nginx of its own.
# Each file imports the ones it uses:
# `use lib 't/lib'; use SeckillNginx qw(redis ...);`
package SeckillNginx;
use strict;
use warnings;
use Exporter 'import';
use File::Temp ();
use IO::Socket::INET;
use POSIX ();
use Time::HiRes ();

our @EXPORT_OK = qw(redis stall_redis drop_course forget_courses course http http_from ready
                    mysql alive cli cli_ok wait_error_log nginx_start nginx_stop
                    nginx_workers);

sub redis {
    local $?;    # see cli()
    open my $fh, '-|', 'redis-cli', '-p', $ENV{TEST_NGINX_REDIS_PORT}, @_
        or die "redis-cli: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/\n+\z//;
    return $out;
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
    Time::HiRes::sleep(0.1);
    return $pid;
}

sub drop_course {
    my $id = shift;
    my @keys = split /\n/, redis('KEYS', "seckill:{c$id}*");
    redis('DEL', @keys) if @keys;
}

# The consumer (when t/run.sh runs one) persists what these tests buy: wait
# until it confirmed our orders (or makes no progress), then take them back
# out of MariaDB and Redis, so that `seckill check` sees only real courses.
sub forget_courses {
    local $?;    # see cli()
    my @ids = @_;
    my ($left, $last, $still) = (0, -1, 0);
    while ($still < 20) {
        $left = 0;
        $left += redis('HLEN', "seckill:{c$_}:pending") for @ids;
        last if $left == 0;
        $still = $left == $last ? $still + 1 : 0;
        $last = $left;
        Time::HiRes::sleep(0.1);
    }
    if ($ENV{TEST_NGINX_MYSQL_PORT}) {
        system('mariadb', '--no-defaults', '-h127.0.0.1',
               "-P$ENV{TEST_NGINX_MYSQL_PORT}", '-useckill',
               'seckill', '-e', 'DELETE FROM orders WHERE course_id IN ('
               . join(',', @ids) . ')');
    }
    drop_course($_) for @ids;
}

# a course on sale now, or from/until other times (ms from now)
sub course {
    my ($id, $seats, $from, $to) = @_;
    my $now = int(Time::HiRes::time() * 1000);
    drop_course($id);
    redis('HSET', "seckill:{c$id}", name => "Test course $id",
          total => $seats, remaining => $seats,
          starts_at => $now + ($from // -60000),
          ends_at => $now + ($to // 3600000));
}

# a request to the nginx under test: the status, and in list context the body
sub http {
    my ($code, $body) = http_from(undef, @_);
    return wantarray ? ($code, $body) : $code;
}

# the same from a given local address (127.0.0.2 is this host, and not the
# 127.0.0.1 of the operator's locations), to the Test::Nginx server or to
# another port: (code, body)
sub http_from {
    my ($from, $method, $path, $port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $port // $ENV{TEST_NGINX_SERVER_PORT},
                                  (defined $from ? (LocalAddr => $from) : ()),
                                  Timeout => 5)
        or die "connect" . (defined $from ? " from $from" : '') . ": $!";
    print $s "$method $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $resp = <$s> // '';
    my ($code) = $resp =~ m{^HTTP/1\.\d (\d+)};
    my ($body) = $resp =~ /\r\n\r\n(.*)\z/s;
    return ($code // 0, $body // '');
}

# a fresh worker answers purchases once Redis gave it its order ids
sub ready {
    for (1 .. 150) {
        return if http('GET', '/api/orders/1/1') != 503;
        Time::HiRes::sleep(0.02);
    }
}

sub mysql {
    local $?;    # see cli()
    my $sql = shift;
    open my $fh, '-|', 'mariadb', '--no-defaults', '-N', '-B', '-h127.0.0.1',
        "-P$ENV{TEST_NGINX_MYSQL_PORT}", '-useckill', 'seckill',
        '-e', $sql
        or die "mariadb: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/\n+\z//;
    return $out;
}

sub alive {
    my $pid = shift;
    return 0 unless $pid && kill 0, $pid;
    open my $st, '<', "/proc/$pid/stat" or return 1;
    return (<$st> // '') !~ /^\d+ \(.*\) Z /s;
}

# the CLI with the test stack's config, or the one of a leading
# ('-c', FILE): (exit status, stdout and stderr). $? is left alone: the real
# Test::Nginx runs cleanup handlers (which call this) from its END block
# too, where $? is the test file's exit status.
sub cli {
    local $?;
    my @conf = ('-c', $ENV{TEST_NGINX_SECKILL_CONF});
    @conf = splice(@_, 0, 2) if @_ >= 2 && $_[0] eq '-c';
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT or die "stderr: $!";
        # never a terminal: a command that asks there must not wait for one
        open STDIN, '<', '/dev/null' or die "stdin: $!";
        exec $ENV{TEST_NGINX_SECKILL_CLI}, @conf, @_;
        die "exec $ENV{TEST_NGINX_SECKILL_CLI}: $!";
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

sub cli_ok {
    my ($rc, $out) = cli(@_);
    Test::More::is($rc, 0, "seckill @_") or Test::More::diag($out);
    return $out;
}

# Waits up to 5 s for a line of the Test::Nginx server's error log to
# match; true when one does (what a worker logs as it starts, before any
# request of the block could show it).
sub wait_error_log {
    my ($re) = @_;
    my $log = "$ENV{TEST_NGINX_SERVROOT}/logs/error.log";
    return _until(5, sub {
        open my $fh, '<', $log or return 0;
        while (my $line = <$fh>) {
            return 1 if $line =~ $re;
        }
        return 0;
    });
}

sub _until {
    my ($secs, $cond) = @_;
    for (1 .. $secs * 20) {
        return 1 if $cond->();
        Time::HiRes::sleep(0.05);
    }
    return 0;
}

# A private nginx with the module, a master and `workers` workers as in
# production, on TEST_NGINX_PORT (or `port`), on the test stack's Redis and
# Kafka (or `redis`/`kafka` host:port), with the http directives given in
# `http` (e.g. "seckill_kafka_timeout 1s;"). Returns {url, dir, pid,
# error_log} once every worker has its order ids, or nothing.
sub nginx_start {
    my (%o) = @_;
    my $workers = $o{workers} // 2;
    my $port = $o{port} // ($ENV{TEST_NGINX_PORT} || 1984);
    my $redis = $o{redis} // "127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT}";
    my $kafka = $o{kafka} // "127.0.0.1:$ENV{TEST_NGINX_KAFKA_PORT}";
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
    _until(10, sub {
        open my $fh, '<', "$dir/logs/nginx.pid" or return 0;
        chomp($n->{pid} = <$fh> // '');
        return $n->{pid} =~ /^\d+$/;
    }) or return;
    _until(10, sub {
        open my $log, '<', $n->{error_log} or return 0;
        return (grep { /order ids from/ } <$log>) >= $workers;
    }) or return;
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
    kill 'QUIT', $n->{pid};
    _until(10, sub { !alive($n->{pid}) }) or kill 'KILL', $n->{pid};
    kill 'KILL', nginx_workers($n->{pid});
}

1;
