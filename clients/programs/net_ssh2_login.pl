# sshmatrix's Perl Net::SSH2 client (Debian's libnet-ssh2-perl over the system's libssh2, as
# Perl automation and monitoring plugins use it): log in once with a key file, an agent's key or
# a password, and report.
#
# argv: HOST PORT USER KEY TIMEOUT_SECS FAMILY (empty: none), or `--version` (prints the
# libssh2 version underneath). Secrets are read from the 0600 files $SSHMATRIX_PASSFILE
# (passphrase) and $SSHMATRIX_PASSWORD_FILE (password), never argv; $SSHMATRIX_AGENT_SOCK names
# an agent cell's ssh-agent. No known_hosts (the host key is accepted as it comes). After
# authentication a session channel is opened and closed. Prints `sshmatrix-negotiated ...` and
# one `sshmatrix-result ok` or `sshmatrix-result fail STAGE MESSAGE` line.
use strict;
use warnings;
use Net::SSH2;

$| = 1;

if (@ARGV && $ARGV[0] eq '--version') {
    my ($text) = Net::SSH2::version();
    print "$text\n";
    exit 0;
}

sub result { print join(' ', 'sshmatrix-result', @_), "\n"; }

sub secret {
    my ($path) = @_;
    return undef if !defined $path || $path eq '';
    open(my $f, '<', $path) or die "cannot read $path: $!";
    local $/;
    my $s = <$f>;
    close $f;
    $s =~ s/\n\z//;
    return $s;
}

# libssh2's error name and text (LIBSSH2_ERROR_FILE: "Unable to extract public key ...").
sub said {
    my ($ssh) = @_;
    my ($code, $name, $text) = $ssh->error;
    $text = 'no message' if !defined $text || $text eq '';
    return "$name: $text";
}

my ($host, $port, $user, $key, $timeout) = @ARGV;
my $passfile = $ENV{SSHMATRIX_PASSFILE} // '';
my $pwfile = $ENV{SSHMATRIX_PASSWORD_FILE} // '';
my $agent = $ENV{SSHMATRIX_AGENT_SOCK} // '';

my $ssh = Net::SSH2->new(timeout => int($timeout * 1000));
if (!$ssh->connect($host, $port)) {
    my (undef, $name) = $ssh->error;
    my $stage = ($name // '') =~ /SOCKET|TIMEOUT/ ? 'connect' : 'negotiate';
    result('fail', $stage, said($ssh));
    exit 0;
}
print 'sshmatrix-negotiated kex=', $ssh->method('KEX'), ' hostkey=', $ssh->method('HOSTKEY'),
    ' cipher=', $ssh->method('CRYPT_CS'), ' mac=', $ssh->method('MAC_CS'), "\n";
my $ok;
if ($pwfile ne '') {
    $ok = $ssh->auth_password($user, secret($pwfile));
} elsif ($agent ne '') {
    $ENV{SSH_AUTH_SOCK} = $agent;
    $ok = $ssh->auth_agent($user);
} else {
    # undef for the public key: libssh2 (OpenSSL backend) derives it from the private key.
    $ok = $ssh->auth_publickey($user, undef, $key, secret($passfile));
}
if (!$ok) {
    my (undef, $name) = $ssh->error;
    # libssh2 names a key file it cannot read or decrypt with LIBSSH2_ERROR_FILE.
    my $stage = ($name // '') eq 'LIBSSH2_ERROR_FILE' ? 'key-load' : 'auth';
    result('fail', $stage, said($ssh));
    exit 0;
}
my $channel = $ssh->channel();
$channel->close if $channel;
$ssh->disconnect;
result('ok');
