package SeckillTest;

# Helpers of the fault suite (t/3*.t): the whole pipeline of t/run.sh
# (nginx on $SECKILL_URL, the consumer, Redis, MariaDB, Kafka), a background
# load of purchases that records every answer, services stopped, killed and
# started with deploy/*.sh, and the end-of-case verdict: `seckill check`
# green, nothing pending, every 200 exactly one row and nothing else a row.
#
# Plain Test::More; each case uses its own course (ids 300..399), created in
# MariaDB and Redis the way `seckill load` would, and removed at the end.

use strict;
use warnings;

use Exporter 'import';
use File::Temp ();
use HTTP::Tiny;
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use SeckillNginx qw(nginx_stop nginx_workers);

our @EXPORT = qw(
    need_pipeline env_of redis sql cli svc svc_pid alive now_ms
    course_add course_drop plant status_of statuses_of
    load_start load_stop
    wait_for wait_green verify_answers codes_of
    kcat_produce kcat_count
    fault_consumer fault_consumer_stop
    log_mark log_since
    nginx_start nginx_stop nginx_workers
);

my %E;

sub env_of { return $E{ $_[0] } }

# Skips the file unless t/run.sh's stack is there.
sub need_pipeline {
    %E = (
        redis => $ENV{TEST_NGINX_REDIS_PORT},
        mysql => $ENV{TEST_NGINX_MYSQL_PORT},
        kafka => $ENV{TEST_NGINX_KAFKA_PORT},
        cli   => $ENV{TEST_NGINX_SECKILL_CLI},
        conf  => $ENV{TEST_NGINX_SECKILL_CONF},
        url   => $ENV{SECKILL_URL},
        run   => $ENV{SECKILL_RUN},
        top   => $ENV{SECKILL_TOP},
    );
    for my $k (sort keys %E) {
        plan skip_all => "needs the pipeline of t/run.sh (no $k: SECKILL_URL, SECKILL_RUN, "
                         . "SECKILL_TOP, TEST_NGINX_*)" unless $E{$k};
    }
    $E{deploy} = "$E{top}/deploy";
    $E{log} = "$E{run}/log";
    $| = 1;
}

sub now_ms { return int(time() * 1000) }

sub _capture {
    my @cmd = @_;
    open my $fh, '-|', @cmd or die "$cmd[0]: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

sub redis {
    my (undef, $out) = _capture('redis-cli', '-p', $E{redis}, @_);
    $out =~ s/\n+\z//;
    return $out;
}

sub sql {
    my ($query) = @_;
    my ($rc, $out) = _capture('mariadb', '--no-defaults', '-h127.0.0.1', "-P$E{mysql}",
                              '-useckill', 'seckill', '-N', '-B', '-e', $query);
    $out =~ s/\n+\z//;
    return $out;
}

# (exit code, output) of the admin CLI with the test stack's config
sub cli {
    return _capture($E{cli}, '-c', $E{conf}, @_);
}

# deploy/SERVICE.sh ACTION, its output kept in run/log/fault-suite.log;
# true when it succeeded.
sub svc {
    my ($service, $action) = @_;
    my $rc = system("'$E{deploy}/$service.sh' $action >>'$E{log}/fault-suite.log' 2>&1");
    diag "deploy/$service.sh $action failed (see $E{log}/fault-suite.log)" if $rc != 0;
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

sub alive {
    my ($pid) = @_;
    return 0 unless $pid && kill 0, $pid;
    open my $st, '<', "/proc/$pid/stat" or return 1;
    return (<$st> // '') !~ /^\d+ \(.*\) Z /s;
}

# A course open for sale, in MariaDB and in Redis (listed in seckill:courses,
# so the sweeper looks at it).
sub course_add {
    my ($id, $seats) = @_;
    my $now = now_ms();
    my ($from, $to) = ($now - 60_000, $now + 3_600_000);
    course_drop($id);
    sql("INSERT INTO courses (id, name, total, starts_at, ends_at) VALUES "
        . "($id, 'Fault suite course $id', $seats, $from, $to)");
    redis('HSET', "seckill:{c$id}", name => "Fault suite course $id", total => $seats,
          remaining => $seats, starts_at => $from, ends_at => $to);
    redis('ZADD', 'seckill:courses', $id, $id);
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
    my (undef, $out) = _capture('sh', '-c', "redis-cli -p $E{redis} <'$file'");
    my @got = split /\n/, $out, -1;
    my %status;
    @status{@users} = map { $_ // '' } @got[0 .. $#users];
    return \%status;
}

sub course_drop {
    my @ids = @_;
    my $list = join ',', @ids;
    sql("DELETE FROM orders WHERE course_id IN ($list)");
    sql("DELETE FROM courses WHERE id IN ($list)");
    for my $id (@ids) {
        my @keys = grep { length } split /\n/, redis('--scan', '--pattern', "seckill:{c$id}*");
        while (my @some = splice @keys, 0, 500) {
            redis('DEL', @some);
        }
    }
    redis('ZREM', 'seckill:courses', @ids);
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
    return { dir => $dir, pids => \@pids, workers => $workers, started => time };
}

# Stops the load (at once, or after $after seconds) and returns its answers:
# [{course, user, code, order, secs}].
sub load_stop {
    my ($load, $after) = @_;
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
    return \@answers;
}

sub codes_of {
    my ($answers) = @_;
    my %codes;
    $codes{ $_->{code} }++ for @$answers;
    return \%codes;
}

# Polls $test->() every 0.2 s for up to $secs; true when it held.
sub wait_for {
    my ($secs, $test) = @_;
    my $deadline = time + $secs;
    while (1) {
        return 1 if $test->();
        return 0 if time >= $deadline;
        sleep 0.2;
    }
}

# `seckill check` green and nothing pending in the courses given, within
# $secs. Returns true, or fails with check's output.
sub wait_green {
    my ($secs, @courses) = @_;
    my ($rc, $out, $pending) = (1, '', -1);
    my $ok = wait_for($secs, sub {
        $pending = 0;
        $pending += redis('HLEN', "seckill:{c$_}:pending") || 0 for @courses;
        return 0 if $pending;
        ($rc, $out) = cli('check');
        return $rc == 0;
    });
    ok($ok, "seckill check green and nothing pending within ${secs}s")
        or diag "pending: $pending; check: $out";
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
    is(scalar @missing, 0, "course $course: every 200 ($n_ok) has its row")
        or diag "missing: @missing[0 .. ($#missing < 9 ? $#missing : 9)]";
    is(scalar @wrong, 0, "course $course: with the order id it was told") or diag "@wrong";
    is(scalar @phantom, 0, "course $course: no row for a request answered otherwise")
        or diag "@phantom";
    is(scalar @stranger, 0, "course $course: no row nobody asked for") or diag "@stranger";
    ok($n_rows <= $total, "course $course: $n_rows rows <= $total seats");
    my $dups = sql("SELECT COUNT(*) FROM (SELECT 1 FROM orders WHERE course_id = $course"
                   . " GROUP BY user_id HAVING COUNT(*) > 1) d");
    is($dups, 0, "course $course: one row per user");
    return $n_rows;
}

# kcat -P: each value one message with the key given, to the topic given,
# to the partition given (undef: kcat's, i.e. librdkafka's, partitioner).
sub kcat_produce {
    my ($topic, $key, $partition, @values) = @_;
    open my $k, '|-', 'kcat', '-P', '-q', '-b', "127.0.0.1:$E{kafka}", '-t', $topic,
        (defined $partition ? ('-p', $partition) : ()), '-K', "\t" or die "kcat: $!";
    print $k "$key\t$_\n" for @values;
    close $k;
    return $? == 0;
}

# Messages of a topic whose value contains $marker.
sub kcat_count {
    my ($topic, $marker) = @_;
    my (undef, $out) = _capture('kcat', '-C', '-q', '-b', "127.0.0.1:$E{kafka}", '-t', $topic,
                                '-o', 'beginning', '-e', '-f', '%s\n');
    return scalar grep { index($_, $marker) >= 0 } split /\n/, $out;
}

# A second consumer daemon with test settings over the stack's config
# (sweeper every second, orphans older than 8 s: above the pipeline nginx's
# 5 s delivery timeout + 2 s), in the same group, with its own log
# run/log/consumer-NAME.log and pid file run/consumer-NAME.pid. Returns its
# pid once it is up. The stack's consumer is left as it is (stop it with
# svc('consumer', 'stop') for this one to have every partition).
sub fault_consumer {
    my ($name, %set) = @_;
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
        return $pid && _log_has($log, "started (pid $pid,");
    });
    diag "the test consumer $name did not start (see $log)" unless $ok;
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

# A private nginx (SeckillNginx::nginx_start) on this stack's Redis and
# Kafka.
sub nginx_start {
    my (%o) = @_;
    return SeckillNginx::nginx_start(redis => "127.0.0.1:$E{redis}",
                                     kafka => "127.0.0.1:$E{kafka}", %o);
}

sub _log_has {
    my ($file, $text) = @_;
    open my $fh, '<', $file or return 0;
    while (<$fh>) { return 1 if index($_, $text) >= 0 }
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

1;
