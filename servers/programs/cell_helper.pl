# sshmatrix's per-container helper: started once per container (`docker exec -i ID perl -e …`),
# it runs each cell's process inside the container without another `docker exec`.
#
# stdin: first line a secret token, then kept open; EOF (the host process gone) stops the helper.
# stdout: one line `sshmatrix-helper PORT` once it listens on 127.0.0.1:PORT (host networking).
# Each connection sends one header line of tab-separated fields, the token first:
#   TOKEN inetd LOG ARGV...   run ARGV with the connection as stdin and stdout and stderr
#                             appended to LOG (a directory the host mounted at the same path);
#                             the connection closes once ARGV has exited (its log complete).
#   TOKEN daemon ARGV...      run ARGV (a server that listens itself) with its stderr (a pipe)
#                             relayed to the connection; the host's EOF stops it (SIGTERM), and
#                             the helper's side closes once its log has ended.
#   TOKEN exec STDIN [PROMPT TIMES] SECS NENV K=V... ARGV...
#                             run ARGV with NENV variables added; STDIN 1: the connection's
#                             remaining bytes are its stdin, 0: /dev/null, 2: the connection's
#                             next line is a secret typed (TIMES times at most) only when
#                             ARGV's output shows PROMPT, its stdin closed once all are given or
#                             another secret prompt appears (sshmatrix_core::prompt, the same
#                             rules); killed after SECS.
#                             Answer: `STATUS OUTLEN ERRLEN\n`, then stdout and stderr.
# Perl (perl-base is in every Debian image) and nothing else.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use POSIX ();

my $token = <STDIN>;
defined $token or exit 1;
chomp $token;
# Any local user can connect to the port: a connection costs nothing until its header has
# arrived, whole and with the token. Headers are read here, without forking, a few at a time
# (MAX_PENDING, each within HEADER_SECS); a wrong token closes the connection at the first byte
# that differs. At most MAX_RUNNING requests run at once.
use constant { MAX_PENDING => 64, HEADER_SECS => 5, MAX_RUNNING => 512, MAX_HEADER => 65536 };
my $listener = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 256, ReuseAddr => 1,
) or die "sshmatrix-helper: cannot listen: $!\n";
my $running = 0;
$SIG{CHLD} = sub { while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) { $running-- } };
$| = 1;
print "sshmatrix-helper ", $listener->sockport, "\n";
my $watch = IO::Select->new($listener, \*STDIN);
my %pending;    # fileno => [connection, header so far, deadline]
while (1) {
    for my $fh ($watch->can_read(1)) {
        if ($fh == $listener) {
            my $conn = $listener->accept or next;
            if ($running >= MAX_RUNNING) {
                close $conn;
                next;
            }
            # Full: the connection waiting longest goes (a cell sends its header at once).
            if (keys %pending >= MAX_PENDING) {
                my ($oldest) = sort { $pending{$a}[2] <=> $pending{$b}[2] } keys %pending;
                drop($oldest);
            }
            $pending{fileno $conn} = [$conn, '', time + HEADER_SECS];
            $watch->add($conn);
        } elsif ($fh == \*STDIN) {
            exit 0 unless sysread(STDIN, my $byte, 1);
        } elsif (my $p = $pending{fileno $fh}) {
            header_byte($p);
        }
    }
    for my $fd (keys %pending) {
        drop($fd) if time > $pending{$fd}[2];
    }
}

# Stops waiting for a connection's header.
sub drop {
    my ($fd) = @_;
    my $p = delete $pending{$fd} or return;
    $watch->remove($p->[0]);
    close $p->[0];
}

# Reads one byte of a pending header (one at a time, so nothing after it is consumed): a byte
# that breaks the token closes the connection; a complete header with the token is served by a
# child of its own.
sub header_byte {
    my ($p) = @_;
    my ($conn) = @$p;
    my $fd = fileno $conn;
    my $n = sysread($conn, my $byte, 1);
    return drop($fd) unless $n;
    if ($byte ne "\n") {
        $p->[1] .= $byte;
        my $so_far = $p->[1];
        my $want = substr("$token\t", 0, length $so_far);
        return drop($fd) if length $so_far <= length($token) + 1 && $so_far ne $want;
        return drop($fd) if length $so_far > MAX_HEADER;
        return;
    }
    my $line = $p->[1];
    delete $pending{$fd};
    $watch->remove($conn);
    return close $conn unless index($line, "$token\t") == 0;
    my $pid = fork;
    if (defined $pid && $pid == 0) {
        close $listener;
        $SIG{CHLD} = 'DEFAULT';
        serve($conn, [split /\t/, $line, -1]);
        POSIX::_exit(0);
    }
    $running++ if defined $pid;
    close $conn;
}

sub serve {
    my ($conn, $fields) = @_;
    my ($given, $mode, @rest) = @$fields;
    return unless defined $mode && $given eq $token;
    inetd($conn, @rest) if $mode eq 'inetd';
    daemon($conn, @rest) if $mode eq 'daemon';
    run($conn, @rest) if $mode eq 'exec';
}

sub inetd {
    my ($conn, $log, @argv) = @_;
    my $pid = fork;
    return unless defined $pid;
    if ($pid == 0) {
        POSIX::setsid();
        open(STDIN, '<&', $conn) and open(STDOUT, '>&', $conn) or POSIX::_exit(126);
        open(STDERR, '>>', $log) or POSIX::_exit(126);
        exec { $argv[0] } @argv or POSIX::_exit(127);
    }
    # The connection stays open here until the server has exited, so the host's EOF means
    # the log is complete.
    waitpid($pid, 0);
}

sub daemon {
    my ($conn, @argv) = @_;
    # Its stderr is a pipe relayed to the connection, not the connection itself: a server may
    # reopen its stderr by name (ProFTPD's `SFTPLog /dev/stderr`), which a socket refuses.
    pipe(my $log, my $err) or return;
    my $pid = fork;
    return unless defined $pid;
    if ($pid == 0) {
        close $log;
        open(STDIN, '<', '/dev/null') and open(STDOUT, '>', '/dev/null') or POSIX::_exit(126);
        open(STDERR, '>&', $err) or POSIX::_exit(126);
        exec { $argv[0] } @argv or POSIX::_exit(127);
    }
    close $err;
    # Relays the log until the daemon and every process it forked have closed it (it exits at
    # once when its port was taken; or once stopped). The host writes nothing: EOF (or an
    # error) means it is done with the daemon, which is then stopped (SIGTERM).
    my $select = IO::Select->new($conn, $log);
    my $deadline;
    while ($select->exists($log)) {
        last if defined $deadline && time > $deadline;
        for my $fh ($select->can_read(1)) {
            if ($fh == $log) {
                my $n = sysread($log, my $chunk, 65536);
                if ($n) { syswrite($conn, $chunk) } else { $select->remove($log) }
            } elsif (!sysread($conn, my $byte, 1)) {
                $select->remove($conn);
                kill('TERM', $pid);
                $deadline = time + 60;
            }
        }
    }
    kill('KILL', $pid) if defined $deadline && time > $deadline;
    waitpid($pid, 0);
    POSIX::_exit(0);
}

# The line after a request's header (a secret), read a byte at a time.
sub secret_line {
    my ($conn) = @_;
    my $line = '';
    while (sysread($conn, my $byte, 1)) {
        return $line if $byte eq "\n";
        $line .= $byte;
        return undef if length $line > 4096;
    }
    return undef;
}

# The typist (see sshmatrix_core::prompt): what to do after more output: 'type', 'close' or ''.
sub typist_step {
    my ($t, $out) = @_;
    return '' if $t->{closed};
    my $text = lc substr($out, $t->{seen});
    my $want = lc $t->{prompt};
    my $at = index($text, $want);
    my $other = -1;
    for my $p ('password:', 'passphrase') {
        next if index($want, $p) >= 0;
        my $o = index($text, $p);
        $other = $o if $o >= 0 && ($other < 0 || $o < $other);
    }
    if ($at >= 0 && !($other >= 0 && $other < $at)) {
        $t->{seen} += $at + length $want;
        $t->{given}++;
        $t->{closed} = 1 if $t->{given} >= $t->{times};
        return 'type';
    }
    if ($other >= 0) {
        $t->{closed} = 1;
        return 'close';
    }
    return '';
}

sub run {
    my ($conn, $stdin, @rest) = @_;
    my $typist;
    if ($stdin eq '2') {
        my ($prompt, $times) = splice(@rest, 0, 2);
        my $secret = secret_line($conn);
        return unless defined $secret;
        $typist = { prompt => $prompt, times => $times, given => 0, seen => 0, closed => 0,
                    secret => $secret };
    }
    my ($secs, $nenv) = splice(@rest, 0, 2);
    my @env = splice(@rest, 0, $nenv);
    my @argv = @rest;
    pipe(my $out_r, my $out_w) or return;
    pipe(my $err_r, my $err_w) or return;
    my ($in_r, $in_w);
    if ($typist) {
        pipe($in_r, $in_w) or return;
    }
    my $pid = fork;
    return unless defined $pid;
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        for (@env) {
            my ($k, $v) = split /=/, $_, 2;
            $ENV{$k} = $v;
        }
        close $in_w if $in_w;
        my $in = $typist ? open(STDIN, '<&', $in_r)
               : $stdin eq '1' ? open(STDIN, '<&', $conn)
               : open(STDIN, '<', '/dev/null');
        $in and open(STDOUT, '>&', $out_w) and open(STDERR, '>&', $err_w) or POSIX::_exit(126);
        exec { $argv[0] } @argv or do {
            print STDERR "sshmatrix-helper: cannot run $argv[0]: $!\n";
            POSIX::_exit(127);
        };
    }
    # Its own process group, set on both sides of the fork so a kill never misses it.
    POSIX::setpgid($pid, $pid);
    close $out_w;
    close $err_w;
    close $in_r if $in_r;
    my %text = ($out_r => '', $err_r => '');
    my $open = IO::Select->new($out_r, $err_r);
    # Without stdin the connection only closes when the host gave up on the cell.
    $open->add($conn) if $stdin eq '0';
    my ($gone, $deadline) = (0, time + $secs);
    while (!$gone && grep { $_ != $conn } $open->handles) {
        my $left = $deadline - time;
        last if $left <= 0;
        for my $fh ($open->can_read($left)) {
            my $n = sysread($fh, my $chunk, 65536);
            if ($fh == $conn) {
                $gone = 1 unless $n;
            } elsif ($n) {
                $text{$fh} .= $chunk;
                next unless $fh == $out_r && $typist && $in_w;
                my $step = typist_step($typist, $text{$out_r});
                syswrite($in_w, "$typist->{secret}\n") if $step eq 'type';
                if ($step eq 'close' || $typist->{closed}) {
                    close $in_w;
                    undef $in_w;
                }
            } else {
                $open->remove($fh);
            }
        }
    }
    close $in_w if $in_w;
    # Out of time, or the host gave up: the whole process group goes.
    kill('KILL', -$pid) if $gone || grep { $_ != $conn } $open->handles;
    waitpid($pid, 0);
    my $status = $?;
    my $answer = sprintf("%d %d %d\n", $status, length $text{$out_r}, length $text{$err_r});
    syswrite($conn, $answer . $text{$out_r} . $text{$err_r});
}
