"""sshmatrix's Twisted Conch server: the SSH server of the Python library Twisted
(twisted.conch), as the Debian image's python3-twisted has it, with the library's own
algorithms, serving one cell's connections on 127.0.0.1.

argv: PORT KEYDIR HOSTKEY... KEYDIR holds one OpenSSH authorized-keys file per user (named as
the user); HOSTKEY files are OpenSSH private keys. Public keys are checked by Twisted's own
SSHPublicKeyChecker against those files; passwords by its in-memory database holding a random
password for each user (so a password given is refused, in Twisted's words). Every session
request (exec, shell, subsystem) ends at once with exit status 0: no command runs.

Everything Twisted logs (its debug level included) goes to stderr, one line each, after the
prefix `conch: `; sshmatrix's own lines start `sshmatrix: ` (each connection, a key this
release cannot read); `sshmatrix-server listening` once the port is open.
"""
import os
import secrets
import struct
import sys
import warnings

# The cryptography release Debian pairs with it deprecates ciphers Twisted still lists
# (Blowfish, CAST5): warnings, not the server's log.
warnings.simplefilter("ignore")

from twisted.conch.avatar import ConchUser
from twisted.conch.checkers import InMemorySSHKeyDB, SSHPublicKeyChecker
from twisted.conch.ssh import factory, keys, session
from twisted.cred import checkers, portal
from twisted.internet import reactor
from twisted.logger import LogLevel, formatEvent, globalLogBeginner
from zope.interface import implementer

READY = "sshmatrix-server listening"


def observe(event):
    """Writes one log event to stderr (the traceback of a failure too)."""
    text = formatEvent(event)
    failure = event.get("log_failure")
    if failure is not None:
        text += "\n" + failure.getTraceback()
    for line in text.splitlines():
        sys.stderr.write(f"conch: {line}\n")
    sys.stderr.flush()


class Session(session.SSHSession):
    """A session channel whose every request ends it at once with exit status 0."""

    def _done(self):
        self.conn.sendRequest(self, b"exit-status", struct.pack(">L", 0))
        self.conn.sendEOF(self)
        self.loseConnection()
        return 1

    def request_exec(self, data):
        return self._done()

    def request_shell(self, data):
        return self._done()

    def request_subsystem(self, data):
        return self._done()

    def request_pty_req(self, data):
        return 1

    def request_env(self, data):
        return 1


class User(ConchUser):
    def __init__(self, name):
        ConchUser.__init__(self)
        self.username = name
        self.channelLookup[b"session"] = Session


@implementer(portal.IRealm)
class Realm:
    def requestAvatar(self, avatar_id, mind, *interfaces):
        return interfaces[0], User(avatar_id), lambda: None


class Factory(factory.SSHFactory):
    """Twisted's SSH factory, saying which connection each is: a per-cell daemon serves one,
    and another local user's connection to its port would be counted as foreign."""

    def buildProtocol(self, addr):
        sys.stderr.write(f"sshmatrix: connection from {addr.host}:{addr.port}\n")
        sys.stderr.flush()
        return factory.SSHFactory.buildProtocol(self, addr)


def authorized(keydir):
    """Each user's authorized keys, as Twisted's key database takes them. A line this release
    cannot read is left out, as Twisted's own authorized_keys reader does
    (twisted.conch.checkers._keysFromFilepaths skips BadKeyError), and said so."""
    found = {}
    for user in os.listdir(keydir):
        with open(os.path.join(keydir, user), "rb") as f:
            lines = [line.strip() for line in f if line.strip() and not line.startswith(b"#")]
        found[user.encode()] = []
        for line in lines:
            try:
                found[user.encode()].append(keys.Key.fromString(line))
            except keys.BadKeyError as e:
                print(f"sshmatrix: {user}'s key {line.split()[0].decode()} left out: {e}",
                      file=sys.stderr, flush=True)
    return found


def main():
    port, keydir, host_keys = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    globalLogBeginner.beginLoggingTo([observe], redirectStandardIO=False)
    users = authorized(keydir)
    passwords = checkers.InMemoryUsernamePasswordDatabaseDontUse()
    for user in users:
        passwords.addUser(user, secrets.token_hex(16).encode())
    p = portal.Portal(Realm())
    p.registerChecker(SSHPublicKeyChecker(InMemorySSHKeyDB(users)))
    p.registerChecker(passwords)
    f = Factory()
    f.portal = p
    private = [keys.Key.fromFile(k) for k in host_keys]
    f.privateKeys = {k.sshType(): k for k in private}
    f.publicKeys = {k.sshType(): k.public() for k in private}
    # The moduli file OpenSSH ships, as Twisted's own sshd-style factory reads it: without
    # primes Twisted offers no diffie-hellman-group-exchange.
    if os.path.exists("/etc/ssh/moduli"):
        from twisted.conch.openssh_compat import primes
        f.primes = primes.parseModuliFile("/etc/ssh/moduli")
    reactor.listenTCP(port, f, interface="127.0.0.1")
    print(READY, file=sys.stderr, flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
