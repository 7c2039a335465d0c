package Test::Nginx::Socket;

# A small stand-in for OpenResty's Test::Nginx::Socket (CPAN "Test-Nginx"),
# loaded by t/lib/Test/Nginx/Socket.pm only when the real module is not
# installed.  It implements just the part of the real module that this
# project's tests use, with the real module's semantics (section grammar and
# filters of Test::Base; nginx.conf layout, server root, start/stop, request
# building and the checks of Test::Nginx::Util / Test::Nginx::Socket), so the
# same .t files run unchanged under either.  Pure core Perl: no Test::Base,
# HTTP::Response or Test::LongString needed.
#
# Known differences from the real module (see also t/README):
#   * Sections and modes of the real module that are not implemented here
#     (HTTP/2-3, pipelined requests, request packets, stap, tcp/udp mock
#     servers, HUP/valgrind/leak/benchmark modes, ...) make the test file bail
#     out with a clear message instead of being silently ignored.
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
use Carp qw(croak carp cluck confess);
use Cwd ();
use Errno ();
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
# Settings: the same environment variables and defaults as Test::Nginx::Util.

our $Verbose            = $ENV{TEST_NGINX_VERBOSE};
our $NginxBinary        = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers            = 1;
our $WorkerConnections  = 64;
our $LogLevel           = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled      = 'on';
our $ServerPort         = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort || 1984;
our $ServerAddr         = '127.0.0.1';
our $ServerName         = 'localhost';
our $Timeout            = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep     = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $ForceRestartOnTest = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                          ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;
our $NoShuffle          = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $LoadModules        = $ENV{TEST_NGINX_LOAD_MODULES};
our $CheckAccumErrLog   = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $NoRootLocation     = 0;
our $RepeatEach         = 1;
our $ConfigPreamble     = '';
our $NoLongString;
our @EnvToNginx;
our @BlockPreprocessors;
our @CleanupHandlers;
our @ResponseBodyChecks;

for my $mode (qw(TEST_NGINX_USE_HUP TEST_NGINX_USE_VALGRIND TEST_NGINX_USE_STAP
                 TEST_NGINX_CHECK_LEAK TEST_NGINX_BENCHMARK TEST_NGINX_USE_HTTP2
                 TEST_NGINX_USE_HTTP3 TEST_NGINX_RANDOMIZE TEST_NGINX_USE_RR
                 TEST_NGINX_NO_NGINX_MANAGER))
{
    die "Test::Nginx shim (t/lib/shim): $mode is not supported; "
        . "install the real Test::Nginx from CPAN for that mode\n" if $ENV{$mode};
}

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

our ($NginxVersion, $NginxRawVersion, $NginxV);
our ($PrevConfig, $FirstTime, $ErrLogFilePos, $TotalConnectingTimeouts) = (undef, 1, 0, 0);
our $InSubprocess;

srand $$;

# Sections of the real module that this shim does not implement.  Using one
# must not silently pass.
my %Unsupported = map { $_ => 1 } qw(
    pipelined_requests http2 http3 curl curl_protocol curl_options curl_error
    stap stap_out stap_out_like stap_out_unlike tcp_listen tcp_reply
    tcp_reply_delay tcp_query tcp_query_len tcp_shutdown tcp_shutdown_delay
    tcp_no_close udp_listen udp_reply udp_reply_delay udp_query
    shutdown_error_log no_shutdown_error_log response_body_filters
    request_eval response_body_eval todo todo_nginx skip_nginx2 skip_openssl
    skip_slave reload_fails http09 quic_max_idle_timeout
    server_addr_for_client
);

# ---------------------------------------------------------------------------
# Exports: the names of Test::Nginx::Socket's @EXPORT that are implemented,
# plus what it inherits from Test::Base (Test::More's functions, blocks,
# Carp's functions).

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location server_name
    server_addr server_root html_dir server_port server_port_for_client
    timeout check_accum_error_log add_block_preprocessor bail_out
    add_cleanup_handler add_response_body_check

    ok is isnt like unlike is_deeply cmp_ok skip todo_skip pass fail
    eq_array eq_hash eq_set can_ok isa_ok diag
    blocks no_diff
    croak carp cluck confess
);

{
    no strict 'refs';
    for my $f (qw(ok is isnt like unlike is_deeply cmp_ok skip todo_skip pass
                  fail eq_array eq_hash eq_set can_ok isa_ok diag plan))
    {
        *{__PACKAGE__ . "::$f"} = \&{"Test::More::$f"};
    }
}

sub import {
    my ($class, @args) = @_;
    my $caller = caller;

    if (grep { /^-base$/i } @args) {
        die "Test::Nginx shim: subclassing with -Base is not supported; "
            . "install the real Test::Nginx\n";
    }

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

# ---------------------------------------------------------------------------
# Configuration functions (Test::Nginx::Util).

sub repeat_each (@) { $RepeatEach = shift if @_; $RepeatEach }
sub timeout (@) { $Timeout = shift if @_; $Timeout }
sub workers (@) { $Workers = shift if @_; $Workers }
sub worker_connections (@) { $WorkerConnections = shift if @_; $WorkerConnections }
sub log_level (@) { $LogLevel = shift if @_; $LogLevel }
sub master_on () { $MasterProcessEnabled = 'on' }
sub master_off () { $MasterProcessEnabled = 'off' }
sub master_process_enabled (@) {
    if (@_) { $MasterProcessEnabled = shift() ? 'on' : 'off'; return }
    $MasterProcessEnabled;
}
sub no_shuffle () { $NoShuffle = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub no_long_string () { $NoLongString = 1 }
sub no_diff () { $ENV{TEST_SHOW_NO_DIFFS} = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub config_preamble ($) { $ConfigPreamble = shift }
sub server_name (@) { $ServerName = shift if @_; $ServerName }
sub server_addr (@) { $ServerAddr = shift if @_; $ServerAddr }
sub server_port (@) { $ServerPort = shift if @_; $ServerPort }
sub server_port_for_client (@) { $ServerPortForClient = shift if @_; $ServerPortForClient }
sub server_root () { $ServRoot }
sub html_dir () { $HtmlDir }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::like($got, $expected, $desc)
        if ref $expected && ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc);
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# ---------------------------------------------------------------------------
# Test::Base data: blocks of "=== name" with "--- section [filters]" parts.

my $BlockList;

sub _spec {
    no strict 'refs';
    my $fh = \*{'main::DATA'};
    no warnings;    # a file without __DATA__ has no DATA handle: no blocks
    local $/;
    my $spec = <$fh>;
    return defined $spec ? $spec : '';
}

sub _parse_blocks {
    my $spec = shift;
    my @blocks;
    my $seq = 1;
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
        $block->{_seq} = $seq++;

        if (exists $block->{ONLY}) {
            warn "WARNING: $0 - $name has a --- ONLY section\n";
            return [$block];
        }
        next if exists $block->{SKIP};
        push @blocks, $block;
        last if exists $block->{LAST};
    }
    return \@blocks;
}

sub blocks () {
    $BlockList ||= _parse_blocks(_spec());
    return scalar @$BlockList unless wantarray;
    $_->run_filters for grep { !$_->{_filtered} } @$BlockList;
    return @$BlockList;
}

# Test::Base's stock filters that a Test::Nginx file commonly uses.
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
    chomp   => sub { map { chomp; $_ } @_ },
    chop    => sub { map { chop; $_ } @_ },
    unchomp => sub { map { $_ . "\n" } @_ },
    lines   => sub {
        die "Input to the 'lines' filter must be a scalar, not a list\n" if @_ > 1;
        my $t = shift;
        return () unless length $t;
        return $t =~ /^(.*\n?)/gm;
    },
    array => sub { [@_] },
    join  => sub {
        my $sep = $Test::Nginx::Socket::Block::FilterArg;
        join defined $sep ? $sep : '', @_;
    },
    eval => sub {
        die "Input to the 'eval' filter must be a scalar, not a list\n" if @_ > 1;
        my @r = Test::Nginx::Socket::Filter::_eval(shift);
        return @r;
    },
);

sub _filter { $Filters{ $_[0] } }

# ---------------------------------------------------------------------------
# Main loop.

sub run_tests () {
    $NginxVersion = get_nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = blocks();
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
    if (defined $tm) {
        if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
            $tm = $tm / 1000;
        } else {
            $tm =~ s/([^_a-zA-Z])s$/$1/;
        }
    }
    return $tm;
}

sub _version_num { sprintf "%d.%03d%03d", @_[0 .. 2] }

sub get_nginx_version () {
    my $out = `"$NginxBinary" -V 2>&1`;
    if (!defined $out || $? != 0) {
        bail_out("Failed to get the version of the Nginx in PATH: " . ($out // ''));
    }
    $NginxV = $out;
    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        $NginxRawVersion = "$1.$2.$3";
        return _version_num($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

sub run_test ($) {
    my $block = shift;
    my $name  = $block->name;

    for my $s (@{ $block->{_order} || [] }, grep { !/^_/ } keys %$block) {
        bail_out("$name - section --- $s is not supported by the Test::Nginx "
                 . "shim (t/lib/shim); install the real Test::Nginx")
            if $Unsupported{$s};
    }

    my $first_time = $FirstTime;
    undef $FirstTime;

    my $rand_ports = {};
    my $config = expand_env_in_text(scalar $block->config, $name, $rand_ports);

    local $LogLevel = $LogLevel;
    $LogLevel = $block->log_level if $block->log_level;

    my $must_die = $block->must_die;
    my $dry_run  = 0;
    my ($should_restart, $should_reconfig);

    if (!defined $config) {
        if (!defined $PrevConfig) {
            bail_out("$name - No '--- config' section specified and could not "
                     . "get previous one.");
        }
        $should_restart = $should_reconfig = 0;
    } else {
        $should_reconfig = !defined $PrevConfig || $config ne $PrevConfig;
        $should_restart  = $should_reconfig || $ForceRestartOnTest;
    }

    my ($should_skip, $tests_to_skip, $skip_reason);

    if (defined(my $skip_eval = $block->skip_eval)) {
        if ($skip_eval =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($tests_to_skip, $skip_reason) = ($1, 'skip_eval');
            my $code = $2;
            $should_skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code \"$code\": $@")
                if $@;
        }
    }

    if (defined(my $skip_nginx = $block->skip_nginx)) {
        if ($skip_nginx =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/) {
            $tests_to_skip = $1;
            my ($op, $ver) = ($2, _version_num($3, $4, $5));
            $skip_reason = $6 || "nginx version $op $3.$4.$5";
            my %cmp = ('<' => sub { $_[0] < $_[1] }, '<=' => sub { $_[0] <= $_[1] },
                       '>' => sub { $_[0] > $_[1] }, '>=' => sub { $_[0] >= $_[1] });
            $should_skip = 1 if $cmp{$op}->($NginxVersion, $ver);
        } else {
            bail_out("$name - Invalid --- skip_nginx spec: $skip_nginx");
        }
    }
    $skip_reason //= 'various reasons';

    if (!$should_skip && $should_restart) {
        $PrevConfig = $config if $should_reconfig;

        stop_nginx($name);

        setup_server_root($first_time);
        write_user_files($block, $rand_ports);
        write_config_file($block, $config, $rand_ports);

        bail_out("$name - Cannot find the nginx executable in the PATH environment")
            unless can_run($NginxBinary);

        $ErrLogFilePos = 0;
        my ($i, $waited) = (0, 0);

        while (1) {
            my $status = start_nginx();
            my ($exec_failed, $coredump, $exit_code);
            if ($status == -1) {
                $exec_failed = 1;
            } else {
                $exit_code = $status >> 8;
                $coredump  = $status & 128;
            }

            if (defined $must_die) {
                if ($exec_failed) {
                    Test::More::fail("$name - failed to execute the nginx command line");
                } elsif ($coredump) {
                    Test::More::fail("$name - nginx core dumped");
                } elsif (looks_like_number($must_die)) {
                    Test::More::is($must_die, $exit_code,
                                   "$name - die with the expected exit code");
                } else {
                    Test::More::isnt($status, 0, "$name - die as expected");
                }

                check_error_log($block, undef, $dry_run, $i, 0);

                if ($status == 0) {
                    warn "WARNING: $name - nginx must die but it does not; "
                         . "killing it (req $i)\n";
                    for (1 .. 15) {
                        last if -f $PidFile;
                        Time::HiRes::sleep($TestNginxSleep);
                    }
                    stop_nginx($name);
                }

                next if ++$i < $RepeatEach;
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
    for my $i (1 .. $RepeatEach) {
        write_user_files($block, $rand_ports) if $i > 1;

        if ($should_skip && defined $tests_to_skip) {
          SKIP: {
                Test::More::skip("$name - $skip_reason", $tests_to_skip);
            }
        } else {
            run_test_helper($block, $dry_run, $i - 1);
        }
    }
}

# ---------------------------------------------------------------------------
# Server root, nginx.conf, nginx start/stop.

sub setup_server_root ($) {
    my $first_time = shift;

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

sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name  = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        my @list;
        my ($fname, $body, $date);
        for my $line (split /^/m, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$fname, $body, $date] if $fname;
                ($fname, $date, $body) = ($1, $2, undef);
            } else {
                $body .= $line;
            }
        }
        push @list, [$fname, $body, $date] if $fname;
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: ", ref $files,
                 ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body = '' unless defined $body;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/}) {
            my $dir = $1;
            make_path($dir) unless -d $dir;
        }
        $body = expand_env_in_text($body, $name, $rand_ports);
        open my $out, '>', $path or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            system('touch', '-t', $date, $path) == 0
                or bail_out("Failed to set the time of $path to $date\n");
        }
    }
}

sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            $val = $rand_ports->{$var} //= gen_rand_port(1000, {
                $ServerPort => 1, map { $_ => 1 } values %$rand_ports })
                // bail_out("$name - Cannot find an available listening port number for $var.\n");
        } else {
            bail_out("$name - No environment $var defined.\n")
                unless defined $ENV{$var};
            $val = $ENV{$var};
        }
        $val;
    }ge;

    return $text;
}

sub gen_rand_port {
    my ($tries, $used) = @_;
    for (1 .. ($tries || 1000)) {
        my $port = int(rand 63550) + 1985;
        next if $used && $used->{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr, LocalPort => $port,
                                         Proto => 'tcp', Timeout => 0.1);
        if ($sock) {
            close $sock;
            return $port;
        }
    }
    return undef;
}

sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    my $http_config      = expand_env_in_text(scalar $block->http_config, $name, $rand_ports) // '';
    my $main_config      = $block->main_config // '';
    my $post_main_config = expand_env_in_text(scalar $block->post_main_config, $name, $rand_ports) // '';
    my $err_log_file     = $block->error_log_file || $ErrLogFile;
    my $server_name      = $block->server_name // $ServerName;
    $config //= '';

    if ($LoadModules) {
        my @modules = map { "load_module $_;" } grep { length } split /\s+/, $LoadModules;
        $main_config .= join ' ', @modules;
    }
    $main_config = expand_env_in_text($main_config, $name, $rand_ports);

    my $env = '';
    for my $v (qw(MOCKEAGAIN_VERBOSE MOCKEAGAIN MOCKEAGAIN_WRITE_TIMEOUT_PATTERN
                  LD_PRELOAD LD_LIBRARY_PATH DYLD_INSERT_LIBRARIES
                  DYLD_FORCE_FLAT_NAMESPACE), @EnvToNginx)
    {
        my $e = $v =~ /\s/ ? "'$v'" : $v;
        $env .= "env $e;\n";
    }

    # Shim only: temp paths inside the server root (see the header comment).
    my $temp_paths = '';
    for my $t (qw(client_body proxy fastcgi uwsgi scgi)) {
        next if $http_config =~ /\b${t}_temp_path\b/;
        next if $t ne 'client_body' && ($NginxV // '') =~ /--without-http_${t}_module/;
        $temp_paths .= "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $user = $> == 0 ? "user root;\n" : '';

    open my $out, '>', $ConfFile or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<"_EOC_";
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
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
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_
    close $out;
}

sub can_run {
    my $cmd = shift;
    if ($cmd =~ m{/}) {
        return -f $cmd && -x _ ? $cmd : undef;
    }
    for my $dir (split(/:/, $ENV{PATH} // ''), '.') {
        next if $dir eq '';
        my $abs = "$dir/$cmd";
        return $abs if -f $abs && -x _;
    }
    return undef;
}

sub nginx_cmd { ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile) }

# Runs nginx in the foreground of a child process, like the real module's
# system("$NginxBinary -p $ServRoot/ -c $ConfFile > /dev/null"), except that
# stderr is appended to logs/error.log (see the header comment).  With
# "daemon on" the command returns once nginx has daemonized.  Returns $?.
sub start_nginx {
    my @cmd = nginx_cmd();
    warn "starting nginx: @cmd\n" if $Verbose;
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

END {
    return if $InSubprocess;
    local $?;
    cleanup();
    stop_nginx('END') unless $ENV{TEST_NGINX_NO_CLEAN};
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

sub build_request ($$$$$) {
    my ($name, $more_headers, $is_chunked, $conn, $req) = @_;
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
    $headers .= "Connection: $conn\r\n" if $more_headers !~ /(?:^|\n)Connection/msi;
    $headers .= "$more_headers$len_header\r\n";

    return "$p->{method} $p->{url} $p->{http_ver}\r\n$headers$content";
}

# A list of requests; each request is a list of { value => bytes,
# delay_before => secs } pieces written one after another on one connection.
sub get_req_from_block ($) {
    my $block = shift;
    my $name  = $block->name;
    my @reqs;

    if (defined(my $raw = $block->raw_request)) {
        if (ref $raw eq 'ARRAY') {
            push @reqs, [ map { ref $_ eq 'HASH' ? $_ : { value => $_ } } @$raw ];
        } else {
            push @reqs, [ { value => $raw } ];
        }
        return \@reqs;
    }

    my $request = $block->request;
    bail_out("$name - no --- request or --- raw_request section") unless defined $request;
    if (!ref $request) {
        1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
    }
    my $more_headers = $block->more_headers // '';

    my @list = ref $request eq 'ARRAY' ? @$request
             : !ref $request ? ($request)
             : bail_out("$name - invalid ---request : MUST be string or array of requests");

    my $i = 0;
    for my $one (@list) {
        bail_out("$name - request packets (array in array) are not supported by the "
                 . "Test::Nginx shim") if ref $one;
        my $hdr = $more_headers;
        if (ref $more_headers eq 'ARRAY') {
            $hdr = $more_headers->[$i];
            bail_out("--- more_headers lacks data for the ${i}th request") unless defined $hdr;
        }
        my ($h, $chunked) = parse_more_headers($hdr);
        push @reqs, [ { value => build_request($name, $h, $chunked, 'close', $one) } ];
        $i++;
    }
    return \@reqs;
}

sub send_request ($$$) {
    my ($req, $timeout, $block) = @_;
    my $name = $block->name;
    my @bits = @$req;
    my $head_req = (join '', map { $_->{value} } @bits) =~ /^\s*HEAD\s+/ ? 1 : 0;

    my $sock;
    my $total = $TotalConnectingTimeouts ? 20 : 50;
    for my $try (1 .. $total + 1) {
        $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr, PeerPort => $ServerPortForClient,
                                      Proto => 'tcp', Timeout => $timeout);
        last if $sock;
        if ($try > $total) {
            my $msg = "$name - Can't connect to $ServerAddr:$ServerPortForClient: $! (aborted)\n";
            if (++$TotalConnectingTimeouts < 3) {
                Test::More->builder->no_ending(1);
                Test::More::fail($msg);
                return (undef, $head_req);
            }
            bail_out($msg);
        }
        my $wait = min(($TestNginxSleep + $TestNginxSleep * $try) * $try / 2, 1);
        warn "$name - Can't connect to $ServerAddr:$ServerPortForClient: $!\n"
            . "\tRetry connecting after $wait sec\n" if $wait >= 0.6;
        Time::HiRes::sleep($wait);
    }

    local $SIG{PIPE} = 'IGNORE';
    $sock->blocking(0);

    my $middle_delay = $block->raw_request_middle_delay;
    my $buf = (shift @bits)->{value};
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
                if ($off >= length $buf) {
                    if (my $next = shift @bits) {
                        my $delay = defined $next->{delay_before} ? $next->{delay_before}
                                  : $middle_delay;
                        Time::HiRes::sleep($delay) if $delay;
                        ($buf, $off) = ($next->{value}, 0);
                    } else {
                        $writing = 0;
                        if (defined(my $how = $block->shutdown)) {
                            shutdown $sock, ($how =~ /^\s*$/ ? 1 : $how);
                        }
                    }
                }
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
            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                if (length($body) - pos($body) < $size) {
                    Test::More->builder->no_ending(1);
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(not enought octets for the data section)");
                    return;
                }
                $decoded .= substr $body, pos($body), $size;
                pos($body) += $size;
                if ($body !~ /\G\r\n/gc) {
                    Test::More->builder->no_ending(1);
                    Test::More::fail("$name - invalid chunked data received (expected CRLF).");
                    return;
                }
            } elsif ($body =~ /\G(.+)/gcs) {
                Test::More->builder->no_ending(1);
                Test::More::fail("$name - invalid chunked body received: $1");
                return;
            } else {
                Test::More->builder->no_ending(1);
                Test::More::fail("$name - no last chunk found - $body");
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

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_idx) = @_;
    my $name = $block->name;

    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = parse_time(scalar $block->timeout);
    $timeout = $Timeout unless defined $timeout;

    my $need_array = @$reqs > 1;
    my $res;

    for my $idx (0 .. $#$reqs) {
        my ($raw, $head_req) = send_request($reqs->[$idx], $timeout, $block);
        $raw = '' unless defined $raw;
        warn "!!! resp: [$raw]" if $Verbose;

        my ($raw_headers, $left) = ('');
        unless (defined $block->ignore_response) {
            ($res, $raw_headers, $left) = parse_response($name, $raw, $head_req);
            $raw_headers //= '';
            if ($left) {
                (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last chunk in "
                     . "response: \"$l\"\n";
            }
            check_error_code($block, $res, $dry_run, $idx, $need_array);
            check_raw_response_headers($block, $raw_headers, $dry_run, $idx, $need_array);
            check_response_headers($block, $res, $raw_headers, $dry_run, $idx, $need_array);
            check_response_body($block, $res, $dry_run, $idx, $repeated_idx, $need_array);
        }

        if ($idx < $#$reqs) {
            Time::HiRes::sleep($block->wait) if $block->wait;
            check_error_log($block, $res, $dry_run, $repeated_idx, $need_array);
            check_access_log($block, $dry_run, $repeated_idx)
                unless defined $block->ignore_response;
        }
    }

    Time::HiRes::sleep($block->wait) if $block->wait;
    check_error_log($block, $res, $dry_run, $repeated_idx, $need_array);
    check_access_log($block, $dry_run, $repeated_idx) unless defined $block->ignore_response;
}

# ---------------------------------------------------------------------------
# Checks.  Test names follow the real module's.

sub check_error_code {
    my ($block, $res, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';
  SKIP: {
        Test::More::skip("$name - tests skipped due to $dry_run", 1) if $dry_run;
        if (defined $block->error_code_like) {
            my $val = get_indexed_value($name, $block->error_code_like, $idx, $need_array);
            Test::More::like($code, qr/$val/sm, "$name - status code ok");
        } elsif (defined $block->error_code) {
            Test::More::is($code, get_indexed_value($name, $block->error_code, $idx, $need_array),
                           "$name - status code ok");
        } else {
            Test::More::is($code, 200, "$name - status code ok");
        }
    }
}

sub check_raw_response_headers {
    my ($block, $raw_headers, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;
    for my $kind (qw(like unlike)) {
        my $sec = "raw_response_headers_$kind";
        next unless defined $block->$sec;
      SKIP: {
            Test::More::skip("$name - $sec - tests skipped due to $dry_run", 1) if $dry_run;
            my $pat = get_indexed_value($name, $block->$sec, $idx, $need_array);
            if ($kind eq 'like') {
                Test::More::like($raw_headers, qr/$pat/s, "$name - raw resp headers like");
            } else {
                Test::More::unlike($raw_headers, qr/$pat/s, "$name - raw resp headers unlike");
            }
        }
    }
}

sub parse_headers ($) {
    my $s = shift;
    my %headers;
    for my $line (split /\n/, $s) {
        $line =~ s/^\s+|\s+$//g;
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            $headers{$key} = $val;
        }
    }
    return \%headers;
}

sub check_response_headers {
    my ($block, $res, $raw_headers, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $headers = parse_headers(get_indexed_value($name, $block->response_headers,
                                                      $idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key};
            if (!defined $val) {
              SKIP: {
                    Test::More::skip("$name - response_headers - tests skipped due to $dry_run", 1)
                        if $dry_run;
                    Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                                       "$name - header $key not present in the raw headers");
                }
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $actual = $res ? $res->header($key) : undef;
            $actual = '' unless defined $actual;
          SKIP: {
                Test::More::skip("$name - response_headers - tests skipped due to $dry_run", 1)
                    if $dry_run;
                Test::More::is($actual, $val, "$name - header $key ok");
            }
        }
    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(get_indexed_value($name, $block->response_headers_like,
                                                      $idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key};
            my $actual = $res ? $res->header($key) : undef;
            $actual = '' unless defined $actual;
          SKIP: {
                Test::More::skip("$name - response_headers_like - tests skipped due to $dry_run", 1)
                    if $dry_run;
                Test::More::like($actual, qr/^$val$/, "$name - header $key like ok");
            }
        }
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
    my ($block, $res, $dry_run, $idx, $repeated_idx, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->content : undef;

    if (defined $block->response_body) {
        my $expected = get_indexed_value($name, $block->response_body, $idx, $need_array);
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }
      SKIP: {
            Test::More::skip("$name - response_body - tests skipped due to $dry_run", 1) if $dry_run;
            if (ref $expected) {
                Test::More::like($content, $expected,
                    "$name - response_body - like (repeated req $repeated_idx, req $idx)");
            } else {
                Test::More::is($content, $expected,
                    "$name - response_body - response is expected (repeated req $repeated_idx, req $idx)");
            }
        }
    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $sec  = "response_body_$type";
        my $pat  = get_indexed_value($name, $block->$sec, $idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = _trim_summary($content);
      SKIP: {
            Test::More::skip("$name - response_body_$type - tests skipped due to $dry_run", 1)
                if $dry_run;
            my $cmp = $type eq 'like' ? \&Test::More::like : \&Test::More::unlike;
            $cmp->($content, qr/$pat/s,
                   "$name - response_body_$type - response is expected ($summary)");
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $idx, $repeated_idx, $dry_run);
    }
}

sub _read_log {
    my ($file, $use_pos) = @_;
    Time::HiRes::sleep($TestNginxSleep * 3);
    open my $in, '<', $file or return [];
    seek $in, $ErrLogFilePos, 0 if $use_pos && !$CheckAccumErrLog && $ErrLogFilePos > 0;
    my @lines = <$in>;
    $ErrLogFilePos = tell $in if $use_pos && !$CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub error_log_data () { _read_log($ErrLogFile, 1) }
sub access_log_data () { _read_log($AccLogFile, 0) }

sub fmt_str ($) {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

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

# --- error_log / --- no_error_log (and the access_log twins): each pattern
# (a line of the section, literal substring, or a qr// from "eval") must match
# / must not match some line of the log written during this request.
sub _check_log_patterns {
    my ($block, $dry_run, $idx, $lines_ref, $reader, $logname, $sec_yes, $sec_no) = @_;
    my $name = $block->name;

    if (defined $block->$sec_yes) {
        my $pats = _patterns(scalar $block->$sec_yes);
        $$lines_ref ||= $reader->();
        for my $line (@{$$lines_ref}) {
            for my $pat (@$pats) {
                next unless defined $pat;
                if (_match_line($line, $pat)) {
                  SKIP: {
                        Test::More::skip("$name - $sec_yes - tests skipped due to $dry_run", 1)
                            if $dry_run;
                        Test::More::pass("$name - pattern \"$pat\" matches a line in $logname (req $idx)");
                    }
                    undef $pat;
                }
            }
        }
        for my $pat (grep { defined } @$pats) {
          SKIP: {
                Test::More::skip("$name - $sec_yes - tests skipped due to $dry_run", 1) if $dry_run;
                Test::More::fail("$name - pattern \"$pat\" should match a line in $logname (req $idx)");
            }
        }
    }

    if (defined $block->$sec_no) {
        my $pats = _patterns(scalar $block->$sec_no);
        my %found;
        $$lines_ref ||= $reader->();
        my $lines = $$lines_ref;
        for my $i (0 .. $#$lines) {
            my $line = $lines->[$i];
            for my $pat (@$pats) {
                next unless defined $pat;
                next unless _match_line($line, $pat);
                if ($found{$pat}++) {
                    Test::More->builder->no_ending(1);
                }
              SKIP: {
                    Test::More::skip("$name - $sec_no - tests skipped due to $dry_run ($line)", 1)
                        if $dry_run;
                    my @more = @{$lines}[ $i + 1 .. min($i + 9, $#$lines - 1) ];
                    Test::More::fail("$name - pattern \"" . fmt_str($pat)
                        . "\" should not match any line in $logname but matches line \""
                        . fmt_str($line) . "\" (req $idx)\n" . join('', @more));
                }
            }
        }
        for my $pat (@$pats) {
            next if !defined $pat || $found{$pat};
          SKIP: {
                Test::More::skip("$name - $sec_no - tests skipped due to $dry_run", 1) if $dry_run;
                Test::More::pass("$name - pattern \"" . fmt_str($pat)
                                 . "\" does not match a line in $logname (req $idx)");
            }
        }
    }
}

sub check_error_log {
    my ($block, $res, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;
    my $lines;

    my %warn_for = (alert => 1, crit => 1, emerg => 1);
    for my $sec (qw(error_log no_error_log)) {
        my $pats = $block->$sec;
        next unless defined $pats;
        for my $lvl (keys %warn_for) {
            delete $warn_for{$lvl} if value_contains($pats, "[$lvl");
        }
    }

    my $grep_pats = $block->grep_error_log;
    if (defined $grep_pats) {
        my $grep_pat = ref $grep_pats eq 'ARRAY' ? $grep_pats->[$idx] : $grep_pats;
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log is defined")
            unless defined $expected;
        $expected = $expected->[$idx] if ref $expected eq 'ARRAY';
      SKIP: {
            Test::More::skip("$name - error_log - tests skipped due to $dry_run", 1) if $dry_run;
            $lines ||= error_log_data();
            my $matched = '';
            for my $line (@$lines) {
                if ((ref $grep_pat && $line =~ /$grep_pat/) || $line =~ /\Q$grep_pat\E/) {
                    $matched .= "$&\n" if $& !~ /\n/;
                }
            }
            if (ref $expected eq 'Regexp') {
                Test::More::like($matched, $expected, "$name - grep_error_log_out (req $idx)");
            } else {
                Test::More::is($matched, $expected, "$name - grep_error_log_out (req $idx)");
            }
        }
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- grep_error_log_out is defined");
    }

    _check_log_patterns($block, $dry_run, $idx, \$lines, \&error_log_data, 'error.log',
                        'error_log', 'no_error_log');

    if (!$dry_run) {
        for my $lvl (sort keys %warn_for) {
            $lines ||= error_log_data();
            for my $line (@$lines) {
                warn "WARNING: $name - " . fmt_str($line) . "\n" if $line =~ /\[$lvl\]/;
            }
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

sub check_access_log {
    my ($block, $dry_run, $idx) = @_;
    my $lines;
    _check_log_patterns($block, $dry_run, $idx, \$lines, \&access_log_data, 'access.log',
                        'access_log', 'no_access_log');
}

# ===========================================================================
# Block objects: section values are lists; an accessor returns the first
# value in scalar context and all of them in list context; a missing section
# is undef (like Test::Base::Block).

package Test::Nginx::Socket::Block;

use strict;
use warnings;

our $AUTOLOAD;
our $FilterArg;

sub new { bless { _order => [], _filters => {} }, shift }

sub set_value {
    my ($self, $key, @vals) = @_;
    $self->{$key} = [@vals];
    return;
}

sub seq_num { $_[0]{_seq} }
sub is_filtered { $_[0]{_filtered} }

sub run_filters {
    my $self = shift;
    Carp::croak("Attempt to filter a block twice") if $self->{_filtered};
    for my $type (@{ $self->{_order} }) {
        my @value = @{ $self->{$type} };
        for my $filter (_filter_list($self->{_filters}{$type})) {
            my $f = $filter;
            local $FilterArg = $f =~ s/=(.*)$// ? $1 : undef;
            no strict 'refs';
            if (defined &{"main::$f"}) {
                local $_ = join '', @value;
                my @new = &{"main::$f"}(@value);
                @value = (!@new || (@new == 1 && $new[0] =~ /\A(\d+|)\z/)) ? ($_) : @new;
            } elsif (my $code = Test::Nginx::Socket::_filter($f)) {
                @value = $code->(@value);
            } else {
                die "Can't find a function or method for '$f' filter\n";
            }
            $self->{$type} = [@value];
        }
    }
    $self->{_filtered} = 1;
}

sub _filter_list {
    my $string = shift // '';
    my (@filters, @append);
    for my $tok ('norm', 'trim', split /\s+/, $string) {
        my $f = $tok;
        last unless length $f;
        if ($f =~ s/^-//) {
            @filters = grep { $_ ne $f } @filters;
        } elsif ($f =~ s/^\+//) {
            push @append, $f;
        } else {
            push @filters, $f;
        }
    }
    return (@filters, @append);
}

sub AUTOLOAD {
    my $self = shift;
    (my $key = $AUTOLOAD) =~ s/.*:://;
    return if $key eq 'DESTROY';
    Carp::croak("Not allowed to set values for '$key'") if @_;
    return unless ref $self && exists $self->{$key};
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
# Parsed HTTP response: code, message, header(Name) (case-insensitive;
# repeated headers joined with ", "), content.

package Test::Nginx::Socket::Response;

use strict;
use warnings;

sub parse {
    my ($class, $str) = @_;
    my $self = bless { code => undef, message => undef, headers => [], content => '' }, $class;
    $str = '' unless defined $str;

    my $status;
    if ($str =~ s/^(.*)\n//) {
        $status = $1;
    } else {
        ($status, $str) = ($str, '');
    }
    $status =~ s/\r\z//;
    if ($status =~ /^\d{3} /) {
        @$self{qw(code message)} = split ' ', $status, 2;
    } else {
        my @f = split ' ', $status, 3;
        @$self{qw(code message)} = @f[1, 2];
    }

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
sub message { $_[0]{message} }

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
