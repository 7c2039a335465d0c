package Test::Nginx::Socket;

# A small stand-in for OpenResty's Test::Nginx::Socket (CPAN "Test-Nginx"),
# loaded by t/lib/Test/Nginx/Socket.pm only when the real module is not
# installed.  It implements just the part of the real module that this
# project's tests use, with the real module's semantics, so the same .t files
# run unchanged under either.  Pure core Perl.
#
# Implemented (see also t/README):
#   * Test::Base's block format: "=== name", "--- section [filters]" and
#     inline "--- section: value"; the filters norm and trim (applied to every
#     section, as Test::Base does), chomp and eval; a function of package main
#     with a filter's name is used in its place, as in Test::Base.
#   * The sections main_config, http_config, config ($TEST_NGINX_* expanded
#     in these three), init, request (a string, or an array of strings for
#     several requests), raw_request (a string), more_headers (a string),
#     timeout, abort, ignore_response, must_die (with or without an exit
#     code), error_code, response_headers ("Name: value", "!Name"),
#     response_body, response_body_like, response_body_unlike, error_log and
#     no_error_log; values can be arrays (one per request).
#   * The functions run_tests, no_shuffle, add_block_preprocessor,
#     add_cleanup_handler, add_response_body_check, and `use ... 'no_plan'`
#     (Test::More's plan).  Blocks are shuffled unless no_shuffle().
#   * The variables TEST_NGINX_BINARY, _PORT (or _SERVER_PORT), _SERVROOT,
#     _LOAD_MODULES, _TIMEOUT, _LOG_LEVEL, _MASTER_PROCESS, _NO_SHUFFLE and
#     _NO_CLEAN.  TEST_NGINX_SERVER_PORT is set for the test file.
#
# Known differences from the real module:
#   * Anything else makes the test file bail out with a clear message instead
#     of being silently ignored: a section that is not implemented here,
#     unless the test file's own code read it and it is not one of the real
#     module's (a custom section such as "--- stack", read with $block->stack
#     in a block preprocessor; the real module ignores a section it does not
#     know), an unknown filter, a request that is not a string, and the real
#     module's modes (TEST_NGINX_USE_HUP, _USE_VALGRIND, ... below).
#   * nginx's stderr at start-up is appended to logs/error.log.  The real
#     module relies on nginx's compiled-in default error log being
#     <prefix>/logs/error.log (true for nginx/OpenResty built from source), so
#     configuration errors printed before `error_log` takes effect land there
#     and `--- must_die` + `--- error_log` can see them.  Debian's nginx is
#     built with --error-log-path=stderr; the redirect gives it the same
#     behaviour.
#   * The generated http{} block also sets *_temp_path under the server root
#     (what a source-built nginx uses by default), so tests never touch
#     Debian's /var/lib/nginx.  Skipped for a directive that --- http_config
#     sets itself.

use strict;
use warnings;
use v5.10.1;

use Test::More ();
use Carp ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(shuffle min);
use POSIX ();
use Scalar::Util qw(looks_like_number);
use Time::HiRes ();

our $VERSION = '0.29';    # the Test::Nginx version whose behaviour we follow
our $IsShim  = 1;

# ---------------------------------------------------------------------------
# Settings: the environment variables and defaults of Test::Nginx::Util.

our $NginxBinary          = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $ServerPort           = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerAddr           = '127.0.0.1';
our $ServerName           = 'localhost';
our $Timeout              = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep       = 0.015;
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $LoadModules          = $ENV{TEST_NGINX_LOAD_MODULES};
our (@BlockPreprocessors, @CleanupHandlers, @ResponseBodyChecks);

our $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
$ServRoot =~ s{/+\z}{};
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

our ($NginxV, $PrevConfig, $ErrLogFilePos, $TotalConnectingTimeouts) = (undef, undef, 0, 0);

for my $mode (qw(USE_HUP USE_VALGRIND USE_STAP CHECK_LEAK BENCHMARK USE_HTTP2 USE_HTTP3
                 RANDOMIZE USE_RR NO_NGINX_MANAGER FORCE_RESTART_ON_TEST
                 CHECK_ACCUM_ERR_LOG CLIENT_PORT))
{
    die "Test::Nginx shim (t/lib/shim): TEST_NGINX_$mode is not supported; "
        . "install the real Test::Nginx from CPAN for that mode\n"
        if defined $ENV{"TEST_NGINX_$mode"} && $ENV{"TEST_NGINX_$mode"} ne '';
}

srand $$;

# The sections run_test understands.  Any other section of a block makes the
# file bail out (a real section the shim lacks must not pass silently), unless
# the test file's own code read it: a custom section, such as "--- stack" read
# with $block->stack in a block preprocessor.  Sections of the real module
# bail out even when read (a preprocessor may read one to set a default).
my %Implemented = map { $_ => 1 } qw(
    main_config http_config config init request raw_request more_headers
    timeout abort ignore_response must_die error_code response_headers
    response_body response_body_like response_body_unlike error_log
    no_error_log
);
my %RealOnly = map { $_ => 1 } qw(
    post_main_config server_name user_files log_level error_log_file wait
    shutdown skip_eval skip_nginx skip_nginx2 skip_openssl skip_slave todo
    todo_nginx error_code_like response_headers_like raw_response_headers_like
    raw_response_headers_unlike grep_error_log grep_error_log_out access_log
    no_access_log raw_request_middle_delay pipelined_requests request_eval
    response_body_eval response_body_filters charset http09 http2 http3
    quic_max_idle_timeout curl curl_protocol curl_options curl_error
    server_addr_for_client shutdown_error_log no_shutdown_error_log
    reload_fails stap stap_out stap_out_like stap_out_unlike tcp_listen
    tcp_reply tcp_reply_delay tcp_query tcp_query_len tcp_shutdown
    tcp_shutdown_delay tcp_no_close udp_listen udp_reply udp_reply_delay
    udp_query
);

# ---------------------------------------------------------------------------
# Exports: the implemented names of Test::Nginx::Socket's @EXPORT.

our @EXPORT = qw(
    run_tests no_shuffle add_block_preprocessor add_cleanup_handler
    add_response_body_check
);

sub import {
    my ($class, @args) = @_;
    my $caller = caller;

    # Test::Base turns on strict and warnings in the test file: so do we, so a
    # file that is fine here is fine under the real module too.
    strict->import;
    warnings->import;

    {
        no strict 'refs';
        *{"${caller}::$_"} = \&{"${class}::$_"} for @EXPORT;
    }

    Test::More::plan(@args) if @args;
}

sub no_shuffle () { $NoShuffle = 1 }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# ---------------------------------------------------------------------------
# Test::Base data: blocks of "=== name" with "--- section [filters]" parts.

sub _parse_blocks {
    my $spec = do {
        no strict 'refs';
        no warnings;    # a file without __DATA__ has no DATA handle: no blocks
        local $/;
        readline \*{'main::DATA'};
    } // '';
    my @blocks;
    for my $hunk ($spec =~ /^(===.*?(?=^===|\z))/msg) {
        my $block = Test::Nginx::Socket::Block->new;
        $hunk =~ s/\A===[ \t]*(.*)\s+// or next;
        my $name = $1;
        my @parts = split /^--- +\(?(\w+)\)? *(.*)?\n/m, $hunk;
        my $description = shift @parts;
        $description = $name unless defined $description && $description =~ /\S/;
        $description =~ s/\s*\z//;
        $block->set_value(description => $description);
        while (@parts) {
            my ($type, $filters, $value) = splice @parts, 0, 3;
            die "'$type' is a reserved name. Use something else.\n"
                if $type =~ /^_/ || Test::Nginx::Socket::Block->can($type);
            $value   = '' unless defined $value;
            $filters = '' unless defined $filters;
            if ($filters =~ /:(\s|\z)/) {    # inline "--- name: value"
                die "Extra lines not allowed in '$type' section\n" if $value =~ /\S/;
                ($filters, $value) = split /\s*:(?:\s+|\z)/, $filters, 2;
                $value = '' unless defined $value;
                $value =~ s/^\s*(.*?)\s*$/$1/;
            }
            $block->{_filters}{$type} = $filters;
            push @{ $block->{_order} }, $type;
            $block->set_value($type, $value);
        }
        $block->set_value(name => $name);
        push @blocks, $block;
    }
    $_->run_filters for @blocks;
    return @blocks;
}

# Test::Base's stock filters that the suite uses.
my %Filters = (
    norm => sub {
        die "Input to the 'norm' filter must be a scalar, not a list\n" if @_ > 1;
        my $t = shift || '';
        $t =~ s/\015\012/\n/g;
        $t =~ s/\r/\n/g;
        return $t;
    },
    trim => sub {
        return map { s/\A([ \t]*\n)+//; s/(?<=\n)\s*\z//g; $_ } @_;
    },
    chomp => sub { map { chomp; $_ } @_ },
    eval  => sub {
        die "Input to the 'eval' filter must be a scalar, not a list\n" if @_ > 1;
        return Test::Nginx::Socket::Filter::_eval(shift);
    },
);

sub _filter { $Filters{ $_[0] } }

# ---------------------------------------------------------------------------
# Main loop.

sub run_tests () {
    $NginxV = `"$NginxBinary" -V 2>&1`;
    bail_out("Failed to get the version of the Nginx in PATH: " . ($NginxV // ''))
        if !defined $NginxV || $? != 0;
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = _parse_blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
    }

    cleanup();
}

sub parse_time ($) {
    my $tm = shift;
    return $tm unless defined $tm;
    return $tm / 1000 if $tm =~ s/([^_a-zA-Z])ms$/$1/;
    $tm =~ s/([^_a-zA-Z])s$/$1/;
    return $tm;
}

sub run_test ($) {
    my $block = shift;
    my $name  = $block->name;

    for my $s (sort keys %$block) {
        next if $s =~ /^_/ || $s eq 'name' || $s eq 'description' || $Implemented{$s}
             || ($block->{_read}{$s} && !$RealOnly{$s});
        bail_out("$name - section --- $s is not implemented by the Test::Nginx shim "
                 . "(t/lib/shim); install the real Test::Nginx (a custom section must "
                 . "be read by the test file, e.g. in a block preprocessor)");
    }

    my $config = expand_env_in_text(scalar $block->config, $name);

    if (!defined $config) {
        # No --- config: the nginx of the previous block goes on.
        bail_out("$name - No '--- config' section specified and could not get "
                 . "previous one.") unless defined $PrevConfig;
    } else {
        $PrevConfig = $config;

        stop_nginx($name);
        setup_server_root();
        write_config_file($block, $config);

        $ErrLogFilePos = 0;
        my ($i, $waited) = (0, 0);

        while (1) {
            my $status = start_nginx();

            if (defined(my $must_die = $block->must_die)) {
                if ($status == -1) {
                    Test::More::fail("$name - failed to execute the nginx command line");
                } elsif ($status & 128) {
                    Test::More::fail("$name - nginx core dumped");
                } elsif (looks_like_number($must_die)) {
                    Test::More::is($must_die, $status >> 8,
                                   "$name - die with the expected exit code");
                } else {
                    Test::More::isnt($status, 0, "$name - die as expected");
                }

                check_error_log($block);

                if ($status == 0) {
                    warn "WARNING: $name - nginx must die but it does not; killing it (req 0)\n";
                    for (1 .. 15) {
                        last if -f $PidFile;
                        Time::HiRes::sleep($TestNginxSleep);
                    }
                    stop_nginx($name);
                }
                return;
            }

            last if $status == 0;

            $i++;
            my $delay = min(0.1 * $i, 1);
            Time::HiRes::sleep($delay);
            $waited += $delay;
            next if $waited < 30;
            bail_out("$name - Cannot start nginx using command \"" . join(' ', nginx_cmd())
                     . "\" (status code $status).");
        }

        Time::HiRes::sleep($TestNginxSleep);
    }

    if (defined(my $init = $block->init)) {
        eval $init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    run_test_helper($block);
}

# ---------------------------------------------------------------------------
# Server root, nginx.conf, nginx start/stop.

sub setup_server_root () {
    if (-d $ServRoot) {
        # Like the real module: remove only what we create, and refuse to go
        # on if anything else is in there (TEST_NGINX_SERVROOT misused).
        remove_tree($ConfDir, glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"),
                    $HtmlDir, $LogDir);
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }

    make_path($ServRoot) unless -d $ServRoot;
    for my $d ($LogDir, $HtmlDir, $ConfDir) {
        mkdir $d or bail_out("Failed to do mkdir $d: $!\n");
    }

    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index or bail_out("Can't open $index for writing: $!\n");
    print $out '<html><head><title>It works!</title></head><body>It works!</body></html>';
    close $out;
}

sub expand_env_in_text ($$) {
    my ($text, $name) = @_;
    return undef unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        $ENV{$1} // bail_out("$name - No environment $1 defined.\n")
    }ge;
    return $text;
}

sub write_config_file ($$) {
    my ($block, $config) = @_;
    my $name = $block->name;

    my $http_config = expand_env_in_text(scalar $block->http_config, $name) // '';
    my $main_config = $block->main_config // '';

    if ($LoadModules) {
        my @modules = map { "load_module $_;" } grep { length } split /\s+/, $LoadModules;
        $main_config .= join ' ', @modules;
    }
    $main_config = expand_env_in_text($main_config, $name);

    my $env = '';
    for my $v (qw(MOCKEAGAIN_VERBOSE MOCKEAGAIN MOCKEAGAIN_WRITE_TIMEOUT_PATTERN
                  LD_PRELOAD LD_LIBRARY_PATH DYLD_INSERT_LIBRARIES
                  DYLD_FORCE_FLAT_NAMESPACE))
    {
        $env .= "env $v;\n";
    }

    # Shim only: temp paths inside the server root (see the header comment).
    my $temp_paths = '';
    for my $t (qw(client_body proxy fastcgi uwsgi scgi)) {
        next if $http_config =~ /\b${t}_temp_path\b/;
        next if $t ne 'client_body' && ($NginxV // '') =~ /--without-http_${t}_module/;
        $temp_paths .= "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }

    my $user = $> == 0 ? "user root;\n" : '';

    open my $out, '>', $ConfFile or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<"_EOC_";
worker_processes  1;
daemon on;
master_process $MasterProcessEnabled;
error_log $ErrLogFile $LogLevel;
pid       $PidFile;
$env
$main_config

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;

$temp_paths
$http_config

    server {
        listen          $ServerPort;
        server_name     '$ServerName';

        client_max_body_size 30M;

        # Begin preamble config...

        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
    }
}

events {
    accept_mutex off;

    worker_connections  64;
}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_
    close $out;
}

sub nginx_cmd { ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile) }

# Runs nginx in the foreground of a child process, like the real module's
# system("$NginxBinary -p $ServRoot/ -c $ConfFile > /dev/null"), except that
# stderr is appended to logs/error.log (see the header comment).  With
# "daemon on" the command returns once nginx has daemonized.  Returns $?.
sub start_nginx {
    my @cmd = nginx_cmd();
    my $pid = fork;
    bail_out("fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        open STDIN,  '<',  '/dev/null';
        open STDOUT, '>',  '/dev/null';
        open STDERR, '>>', $ErrLogFile or open STDERR, '>', '/dev/null';
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $?;
}

sub get_pid_from_pidfile {
    open my $in, '<', $PidFile or return undef;
    my $pid = do { local $/; <$in> };
    close $in;
    return undef unless defined $pid;
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# kill(0) is true for a zombie too; a daemonized nginx is not our child, and
# in a container nobody may reap it, so look at /proc as well.
sub is_running ($) {
    my $pid = shift;
    return 0 unless $pid && kill 0, $pid;
    if (open my $st, '<', "/proc/$pid/stat") {
        my $line = <$st> // '';
        return 0 if $line =~ /^\d+ \(.*\) Z /s;
    }
    return 1;
}

sub _wait_gone {
    my ($pid, $secs) = @_;
    while ($secs > 0) {
        waitpid($pid, POSIX::WNOHANG());
        return 1 unless is_running($pid);
        Time::HiRes::sleep(0.05);
        $secs -= 0.05;
    }
    return !is_running($pid);
}

sub kill_process ($$) {
    my ($pid, $name) = @_;
    return unless is_running($pid);
    kill 'QUIT', $pid;
    return if _wait_gone($pid, $Timeout);
    warn "$name - timeout when waiting for the process $pid to exit\n";
    kill 'TERM', $pid;
    return if _wait_gone($pid, 1);
    warn "$name - WARNING: killing the child process $pid with force...\n";
    kill 'KILL', $pid;
    _wait_gone($pid, 1);
}

sub stop_nginx {
    my $name = shift // '';
    return unless -f $PidFile;
    my $pid = get_pid_from_pidfile();
    kill_process($pid, $name) if $pid;
    unlink $PidFile if -f $PidFile && !($pid && is_running($pid));
}

sub cleanup () {
    $_->() for @CleanupHandlers;
}

# As in the real module, the cleanup handlers run outside any `local $?`: a
# handler that leaves $? set fails the file under both.  Only stopping nginx
# keeps the exit status as it was.
END {
    cleanup();
    unless ($ENV{TEST_NGINX_NO_CLEAN}) {
        local $?;
        stop_nginx('END');
    }
}

# ---------------------------------------------------------------------------
# Requests.

sub parse_request ($$) {
    my ($name, $req) = @_;
    my ($first, $content) = split /(?<=\n)/, $req, 2;
    $first = $req unless defined $first;
    bail_out("$name - Request line should be non-empty") unless length $first;
    my ($meth, $url, $ver);
    if ($first =~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/) {
        ($meth, $url, $ver) = ($1, $2, $3);
    } else {
        bail_out("$name - Request line is not valid. Should be 'meth [url [version]]' "
                 . "but got \"$first\".");
    }
    return {
        method   => $meth,
        url      => defined $url ? $url : '/',
        http_ver => defined $ver ? $ver : 'HTTP/1.1',
        content  => defined $content ? $content : '',
    };
}

sub parse_more_headers ($) {
    my $in = shift;
    my ($out, $is_chunked) = ('', undef);
    for my $header (split /\n+/, $in) {
        next if $header =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $header, 2;
        $val = '' unless defined $val;
        $is_chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

sub build_request ($$$$) {
    my ($name, $more_headers, $is_chunked, $req) = @_;
    my $p = parse_request($name, $req);

    my $len_header = '';
    my $content = $p->{content};
    if (!$is_chunked && $content ne '' && $more_headers !~ /(?:^|\n)Content-Length:/) {
        $content =~ s/^\s+|\s+$//gs;
        $len_header = 'Content-Length: ' . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/gs;
    my $headers = '';
    $headers .= "Host: $ServerName\r\n" if $more_headers !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: close\r\n" if $more_headers !~ /(?:^|\n)Connection/msi;
    $headers .= "$more_headers$len_header\r\n";

    return "$p->{method} $p->{url} $p->{http_ver}\r\n$headers$content";
}

# The bytes of each request of the block.
sub get_req_from_block ($) {
    my $block = shift;
    my $name  = $block->name;
    my $unsupported = "is not supported by the Test::Nginx shim (t/lib/shim); "
                    . "install the real Test::Nginx";

    if (defined(my $raw = $block->raw_request)) {
        bail_out("$name - a --- raw_request that is not a string $unsupported") if ref $raw;
        return [$raw];
    }

    my $request = $block->request;
    bail_out("$name - no --- request or --- raw_request section") unless defined $request;
    if (!ref $request) {
        1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
    }
    my $more_headers = $block->more_headers // '';
    bail_out("$name - a --- more_headers that is not a string $unsupported")
        if ref $more_headers;
    my ($hdr, $chunked) = parse_more_headers($more_headers);

    my @list = ref $request eq 'ARRAY' ? @$request
             : !ref $request ? ($request)
             : bail_out("$name - invalid ---request : MUST be string or array of requests");
    for my $one (@list) {
        bail_out("$name - request packets (array in array) $unsupported") if ref $one;
    }
    return [ map { build_request($name, $hdr, $chunked, $_) } @list ];
}

sub send_request ($$$) {
    my ($buf, $timeout, $block) = @_;
    my $name = $block->name;
    my $head_req = $buf =~ /^\s*HEAD\s+/ ? 1 : 0;

    my $sock;
    my $total = $TotalConnectingTimeouts ? 20 : 50;
    for my $try (1 .. $total + 1) {
        $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr, PeerPort => $ServerPort,
                                      Proto => 'tcp', Timeout => $timeout);
        last if $sock;
        if ($try > $total) {
            my $msg = "$name - Can't connect to $ServerAddr:$ServerPort: $! (aborted)\n";
            if (++$TotalConnectingTimeouts < 3) {
                Test::More->builder->no_ending(1);
                Test::More::fail($msg);
                return (undef, $head_req);
            }
            bail_out($msg);
        }
        my $wait = min(($TestNginxSleep + $TestNginxSleep * $try) * $try / 2, 1);
        warn "$name - Can't connect to $ServerAddr:$ServerPort: $!\n"
            . "\tRetry connecting after $wait sec\n" if $wait >= 0.6;
        Time::HiRes::sleep($wait);
    }

    local $SIG{PIPE} = 'IGNORE';
    $sock->blocking(0);

    my ($off, $writing, $resp) = (0, 1, '');
    my $sel = IO::Select->new($sock);

    while (1) {
        $! = 0;
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef, undef, $timeout);
        if (!$r && !$w) {
            next if $!{EINTR};
            close $sock;
            if (!defined $block->abort) {
                Test::More->builder->no_ending(1);
                Test::More::fail("ERROR: client socket timed out - $name\n");
            }
            return ($resp, $head_req);
        }

        if ($w && @$w) {
            my $n = syswrite $sock, $buf, length($buf) - $off, $off;
            if (!defined $n) {
                if (!$!{EAGAIN} && !$!{EWOULDBLOCK} && !$!{EINTR}) {
                    warn "write failed: $!\n";
                    $writing = 0;
                }
            } else {
                $off += $n;
                $writing = 0 if $off >= length $buf;
            }
        }

        if ($r && @$r) {
            my $n = sysread $sock, my $chunk, 4096;
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $chunk;
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# ---------------------------------------------------------------------------
# Responses: a minimal HTTP::Response-alike (code, header, content).

sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = Test::Nginx::Socket::Response->parse($raw);
    my $left;

    my $code = $res->code;
    if (defined $code && $code ne '' && $code !~ /^\d+$/) {
        $res->{code} = undef;
        $code = undef;
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');

    if (defined $enc && $enc eq 'chunked') {
        my $body = $res->content;
        my $decoded = '';
        pos($body) = 0;
        while (1) {
            if ($body =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = $1 if $body =~ /\G(.+)/gcs;
                last;
            }
            my $error;
            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                if (length($body) - pos($body) < $size) {
                    $error = "invalid chunked data received "
                           . "(not enought octets for the data section)";
                } else {
                    $decoded .= substr $body, pos($body), $size;
                    pos($body) += $size;
                    $error = "invalid chunked data received (expected CRLF)."
                        if $body !~ /\G\r\n/gc;
                }
            } elsif ($body =~ /\G(.+)/gcs) {
                $error = "invalid chunked body received: $1";
            } else {
                $error = "no last chunk found - $body";
            }
            if (defined $error) {
                Test::More->builder->no_ending(1);
                Test::More::fail("$name - $error");
                return;
            }
        }
        $res->content($decoded);
    } elsif (defined $len && $len =~ /^\d+$/) {
        my $body = $res->content;
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, but got ",
                 length $body, "\n" unless $head_req;
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}

sub get_indexed_value ($$$$) {
    my ($name, $value, $idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results should be "
                 . "arrays as well.");
    }
    return $value->[0] if ref $value eq 'ARRAY';
    return $value;
}

sub run_test_helper ($) {
    my $block = shift;
    my $name = $block->name;

    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = parse_time(scalar $block->timeout);
    $timeout = $Timeout unless defined $timeout;

    my $need_array = @$reqs > 1;

    for my $idx (0 .. $#$reqs) {
        my ($raw, $head_req) = send_request($reqs->[$idx], $timeout, $block);
        $raw = '' unless defined $raw;

        unless (defined $block->ignore_response) {
            my ($res, $raw_headers, $left) = parse_response($name, $raw, $head_req);
            $raw_headers //= '';
            if ($left) {
                (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last chunk in "
                     . "response: \"$l\"\n";
            }
            check_error_code($block, $res, $idx, $need_array);
            check_response_headers($block, $res, $raw_headers, $idx, $need_array);
            check_response_body($block, $res, $idx, $need_array);
        }

        check_error_log($block) if $idx < $#$reqs;
    }

    check_error_log($block);
}

# ---------------------------------------------------------------------------
# Checks.  Test names follow the real module's.

sub check_error_code {
    my ($block, $res, $idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';
    my $expected = defined $block->error_code
        ? get_indexed_value($name, $block->error_code, $idx, $need_array) : 200;
    Test::More::is($code, $expected, "$name - status code ok");
}

sub _ports {
    my $s = shift;
    $s =~ s/\$ServerPort(?:ForClient)?\b/$ServerPort/g if defined $s && !ref $s;
    return $s;
}

sub check_response_headers {
    my ($block, $res, $raw_headers, $idx, $need_array) = @_;
    my $name = $block->name;
    return unless defined $block->response_headers;

    my %headers;
    for my $line (split /\n/, get_indexed_value($name, $block->response_headers,
                                                 $idx, $need_array))
    {
        $line =~ s/^\s+|\s+$//g;
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            $headers{$key} = $val;
        }
    }

    for my $key (sort keys %headers) {
        my $val = $headers{$key};
        if (!defined $val) {
            Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                               "$name - header $key not present in the raw headers");
            next;
        }
        my $actual = $res ? $res->header($key) : undef;
        Test::More::is($actual // '', _ports($val), "$name - header $key ok");
    }
}

sub _trim_summary {
    my $s = shift;
    return '' unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

sub check_response_body {
    my ($block, $res, $idx, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->content : undef;

    # As in the real module, response_body_unlike is not looked at when the
    # block has a response_body_like.
    if (defined $block->response_body) {
        my $expected = _ports(get_indexed_value($name, $block->response_body, $idx,
                                                $need_array));
        Test::More::is($content, $expected,
            "$name - response_body - response is expected (repeated req 0, req $idx)");
    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $sec  = "response_body_$type";
        my $pat  = _ports(get_indexed_value($name, $block->$sec, $idx, $need_array));
        my $cmp  = $type eq 'like' ? \&Test::More::like : \&Test::More::unlike;
        $cmp->($content, qr/$pat/s, "$name - response_body_$type - response is expected ("
                                    . _trim_summary($content) . ")");
    }

    $_->($block, $content, $idx, 0, 0) for @ResponseBodyChecks;
}

# The lines nginx wrote to error.log since the last call for this block.
sub error_log_data () {
    Time::HiRes::sleep($TestNginxSleep * 3);
    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogFilePos, 0 if $ErrLogFilePos > 0;
    my @lines = <$in>;
    $ErrLogFilePos = tell $in;
    close $in;
    return \@lines;
}

sub fmt_str ($) {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# A section's patterns: its lines, or the qr// or array an "eval" gave.
sub _patterns {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [ split /\n+/, $pats ];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub _match_line {
    my ($line, $pat) = @_;
    return (ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/;
}

sub value_contains {
    my ($val, $pat) = @_;
    return $val =~ /\Q$pat\E/ if !ref $val || ref $val eq 'Regexp';
    if (ref $val eq 'ARRAY') {
        for (@$val) { return 1 if value_contains($_, $pat) }
    }
    return undef;
}

# --- error_log / --- no_error_log: each pattern (a line of the section, a
# literal substring, or a qr// from "eval") must match / must not match some
# line of the error log written during this request.
sub check_error_log {
    my $block = shift;
    my $name = $block->name;
    my $lines;

    if (defined $block->error_log) {
        my $pats = _patterns(scalar $block->error_log);
        $lines ||= error_log_data();
        for my $line (@$lines) {
            for my $pat (@$pats) {
                next unless defined $pat && _match_line($line, $pat);
                Test::More::pass("$name - pattern \"$pat\" matches a line in error.log (req 0)");
                undef $pat;
            }
        }
        for my $pat (grep { defined } @$pats) {
            Test::More::fail("$name - pattern \"$pat\" should match a line in error.log (req 0)");
        }
    }

    if (defined $block->no_error_log) {
        my $pats = _patterns(scalar $block->no_error_log);
        my %found;
        $lines ||= error_log_data();
        for my $i (0 .. $#$lines) {
            my $line = $lines->[$i];
            for my $pat (@$pats) {
                next unless defined $pat && _match_line($line, $pat);
                Test::More->builder->no_ending(1) if $found{$pat}++;
                my @more = @{$lines}[ $i + 1 .. min($i + 9, $#$lines - 1) ];
                Test::More::fail("$name - pattern \"" . fmt_str($pat)
                    . "\" should not match any line in error.log but matches line \""
                    . fmt_str($line) . "\" (req 0)\n" . join('', @more));
            }
        }
        for my $pat (grep { defined && !$found{$_} } @$pats) {
            Test::More::pass("$name - pattern \"" . fmt_str($pat)
                             . "\" does not match a line in error.log (req 0)");
        }
    }

    # [alert], [crit] and [emerg] lines are shown unless a section mentions them.
    my %warn_for = (alert => 1, crit => 1, emerg => 1);
    for my $pats (grep { defined } scalar $block->error_log, scalar $block->no_error_log) {
        delete $warn_for{$_} for grep { value_contains($pats, "[$_") } keys %warn_for;
    }
    for my $lvl (sort keys %warn_for) {
        $lines ||= error_log_data();
        for my $line (@$lines) {
            warn "WARNING: $name - " . fmt_str($line) . "\n" if $line =~ /\[$lvl\]/;
        }
    }

    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            Test::More->builder->no_ending(1);
            (my $l = $line) =~ s/\n\z//;
            Test::More::fail("$name - $l\n");
        }
    }
}

# ===========================================================================
# Block objects: section values are lists; an accessor returns the first
# value in scalar context and all of them in list context; a missing section
# is undef (like Test::Base::Block).  An accessor notes the section as read.

package Test::Nginx::Socket::Block;

use strict;
use warnings;

our $AUTOLOAD;

sub new { bless { _order => [], _filters => {}, _read => {} }, shift }

sub set_value {
    my ($self, $key, @vals) = @_;
    $self->{$key} = [@vals];
    return;
}

sub run_filters {
    my $self = shift;
    Carp::croak("Attempt to filter a block twice") if $self->{_filtered};
    for my $type (@{ $self->{_order} }) {
        my @value = @{ $self->{$type} };
        for my $f ('norm', 'trim', split ' ', $self->{_filters}{$type} // '') {
            no strict 'refs';
            if (defined &{"main::$f"}) {
                local $_ = join '', @value;
                my @new = &{"main::$f"}(@value);
                @value = (!@new || (@new == 1 && $new[0] =~ /\A(\d+|)\z/)) ? ($_) : @new;
            } elsif (my $code = Test::Nginx::Socket::_filter($f)) {
                @value = $code->(@value);
            } else {
                die "Can't find a function or method for '$f' filter "
                    . "(the Test::Nginx shim in t/lib/shim has norm, trim, chomp and eval)\n";
            }
            $self->{$type} = [@value];
        }
    }
    $self->{_filtered} = 1;
}

sub AUTOLOAD {
    my $self = shift;
    (my $key = $AUTOLOAD) =~ s/.*:://;
    return if $key eq 'DESTROY';
    Carp::croak("Not allowed to set values for '$key'") if @_;
    return unless ref $self;
    $self->{_read}{$key} = 1;
    return unless exists $self->{$key};
    my @list = @{ $self->{$key} || [] };
    return wantarray ? @list : $list[0];
}

# ===========================================================================
# "--- section eval": the value is Perl code, evaluated under strict and
# warnings outside the test file's package (as Test::Base does); on a compile
# or run-time error the value becomes the error message.

package Test::Nginx::Socket::Filter;

sub _eval {
    my @r = eval "use strict; use warnings; $_[0]";
    if ($@) {
        warn "WARNING: eval filter failed: $@";
        return $@;
    }
    return @r;
}

# ===========================================================================
# Parsed HTTP response: code, header(Name) (case-insensitive; repeated
# headers joined with ", "), content.

package Test::Nginx::Socket::Response;

use strict;
use warnings;

sub parse {
    my ($class, $str) = @_;
    my $self = bless { code => undef, headers => [], content => '' }, $class;
    $str = '' unless defined $str;

    my $status;
    if ($str =~ s/^(.*)\n//) {
        $status = $1;
    } else {
        ($status, $str) = ($str, '');
    }
    $status =~ s/\r\z//;
    $self->{code} = $status =~ /^(\d{3}) / ? $1 : (split ' ', $status, 3)[1];

    my @hdr;
    while (1) {
        if ($str =~ s/^([^\s:]+)[ \t]*: ?(.*)\n?//) {
            push @hdr, [$1, $2];
            $hdr[-1][1] =~ s/\r\z//;
        } elsif (@hdr && $str =~ s/^([ \t].*)\n?//) {
            $hdr[-1][1] .= "\n$1";
            $hdr[-1][1] =~ s/\r\z//;
        } else {
            $str =~ s/^\r?\n//;
            last;
        }
    }
    $self->{headers} = \@hdr;
    $self->{content} = $str;
    return $self;
}

sub code { $_[0]{code} }

sub content {
    my $self = shift;
    $self->{content} = shift if @_;
    return $self->{content};
}

sub header {
    my ($self, $name) = @_;
    (my $want = lc $name) =~ tr/_/-/;
    my @v = map { $_->[1] } grep { lc($_->[0]) eq $want } @{ $self->{headers} };
    return undef unless @v;
    return wantarray ? @v : join ', ', @v;
}

1;
