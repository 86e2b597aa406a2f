# sshmatrix's per-container helper: started once per container (`docker exec -i ID perl -e …`),
# it runs each cell's process inside the container without another `docker exec`.
#
# stdin: first line a secret token, then kept open; EOF (the host process gone) stops the helper.
# stdout: one line `sshmatrix-helper PORT` once it listens on 127.0.0.1:PORT (host networking).
# Each connection sends one header line of tab-separated fields, the token first:
#   TOKEN inetd LOG ARGV...   run ARGV with the connection as stdin and stdout and stderr
#                             appended to LOG (a directory the host mounted at the same path);
#                             the connection closes once ARGV has exited (its log complete).
#   TOKEN daemon ARGV...      run ARGV (a server that listens itself) with its stderr on the
#                             connection; the host's EOF stops it (SIGTERM), and the helper's
#                             side closes once it has exited.
#   TOKEN exec STDIN SECS NENV K=V... ARGV...
#                             run ARGV with NENV variables added; STDIN 1: the connection's
#                             remaining bytes are its stdin, 0: /dev/null; killed after SECS.
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
my $listener = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 256, ReuseAddr => 1,
) or die "sshmatrix-helper: cannot listen: $!\n";
$SIG{CHLD} = 'IGNORE';
$| = 1;
print "sshmatrix-helper ", $listener->sockport, "\n";
my $watch = IO::Select->new($listener, \*STDIN);
while (1) {
    for my $fh ($watch->can_read) {
        if ($fh == $listener) {
            my $conn = $listener->accept or next;
            my $pid = fork;
            if (defined $pid && $pid == 0) {
                close $listener;
                $SIG{CHLD} = 'DEFAULT';
                serve($conn);
                POSIX::_exit(0);
            }
            close $conn;
        } elsif (!sysread(STDIN, my $byte, 1)) {
            exit 0;
        }
    }
}

# The header line, read a byte at a time so nothing after it is consumed.
sub header {
    my ($conn) = @_;
    my $line = '';
    local $SIG{ALRM} = sub { POSIX::_exit(1) };
    alarm 30;
    while (1) {
        my $n = sysread($conn, my $byte, 1);
        return undef unless $n;
        last if $byte eq "\n";
        $line .= $byte;
        return undef if length $line > 65536;
    }
    alarm 0;
    return [split /\t/, $line, -1];
}

sub serve {
    my ($conn) = @_;
    my $fields = header($conn) or return;
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
    # Whenever the daemon exits (at once, its port taken; or once stopped) this side closes.
    $SIG{CHLD} = sub { POSIX::_exit(0) };
    my $pid = fork;
    return unless defined $pid;
    if ($pid == 0) {
        $SIG{CHLD} = 'DEFAULT';
        open(STDIN, '<', '/dev/null') and open(STDOUT, '>', '/dev/null') or POSIX::_exit(126);
        open(STDERR, '>&', $conn) or POSIX::_exit(126);
        exec { $argv[0] } @argv or POSIX::_exit(127);
    }
    # The host writes nothing: EOF (or an error) means it is done with the daemon.
    1 while sysread($conn, my $byte, 1);
    kill('TERM', $pid);
    sleep 60;
}

sub run {
    my ($conn, $stdin, $secs, $nenv, @rest) = @_;
    my @env = splice(@rest, 0, $nenv);
    my @argv = @rest;
    pipe(my $out_r, my $out_w) or return;
    pipe(my $err_r, my $err_w) or return;
    my $pid = fork;
    return unless defined $pid;
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        for (@env) {
            my ($k, $v) = split /=/, $_, 2;
            $ENV{$k} = $v;
        }
        my $in = $stdin ? open(STDIN, '<&', $conn) : open(STDIN, '<', '/dev/null');
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
    my %text = ($out_r => '', $err_r => '');
    my $open = IO::Select->new($out_r, $err_r);
    # Without stdin the connection only closes when the host gave up on the cell.
    $open->add($conn) unless $stdin;
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
            } else {
                $open->remove($fh);
            }
        }
    }
    # Out of time, or the host gave up: the whole process group goes.
    kill('KILL', -$pid) if $gone || grep { $_ != $conn } $open->handles;
    waitpid($pid, 0);
    my $status = $?;
    my $answer = sprintf("%d %d %d\n", $status, length $text{$out_r}, length $text{$err_r});
    syswrite($conn, $answer . $text{$out_r} . $text{$err_r});
}
