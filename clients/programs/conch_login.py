"""sshmatrix's Twisted Conch client (the SSH client of Python services, test tools and honeypot
tooling built on Twisted): log in once with a key file (or a password) and open a session
channel (arguments, secrets and output: sshmatrix_cell.py). The host key is accepted as it
comes (no known_hosts); no agent."""
import sys
import warnings

warnings.simplefilter("ignore")

from twisted.conch.ssh import channel, connection, keys, transport, userauth  # noqa: E402
from twisted.internet import defer, protocol, reactor  # noqa: E402
from sshmatrix_cell import cell, negotiated, result, secret  # noqa: E402

C = cell()
STATE = {"stage": "negotiate", "said": None, "done": False}


def report(*words):
    if not STATE["done"]:
        STATE["done"] = True
        result(*words)
    if reactor.running:
        reactor.stop()


def name(v):
    return v.decode() if isinstance(v, bytes) else str(v)


class Session(channel.SSHChannel):
    name = b"session"

    def channelOpen(self, data):
        report("ok")
        self.conn.transport.loseConnection()

    def openFailed(self, reason):
        report("fail", "auth", f"session channel refused: {reason}")


class Connection(connection.SSHConnection):
    def serviceStarted(self):
        self.openChannel(Session(conn=self))


class UserAuth(userauth.SSHUserAuthClient):
    def __init__(self, key, password):
        super().__init__(C.user.encode(), Connection())
        self.key, self.password, self.offered = key, password, False
        self.preferredOrder = [b"password"] if password is not None else [b"publickey"]

    def serviceStarted(self):
        STATE["stage"] = "auth"
        super().serviceStarted()

    def getPublicKey(self):
        if self.key is None or self.offered:
            return None
        self.offered = True
        return self.key.public()

    def getPrivateKey(self):
        return defer.succeed(self.key)

    def auth_keyboard_interactive(self):
        # The base class always asks, and fails each prompt it cannot answer: a client that
        # holds a key or a password only does not take that method at all.
        return False

    def getPassword(self, prompt=None):
        if self.password is None or self.offered:
            return None
        self.offered = True
        return defer.succeed(self.password.encode())


class Transport(transport.SSHClientTransport):
    def verifyHostKey(self, hostKey, fingerprint):
        return defer.succeed(True)

    def connectionSecure(self):
        enc = self.currentEncryptions
        negotiated(kex=name(self.kexAlg), hostkey=name(self.keyAlg),
                   cipher=name(enc.outCipType), mac=name(enc.outMACType))
        self.requestService(UserAuth(self.factory.key, self.factory.password))

    def receiveError(self, reasonCode, description):
        STATE["said"] = f"the server disconnected ({reasonCode}): {name(description)}"

    def sendDisconnect(self, reason, desc):
        STATE["said"] = f"the client disconnected ({reason}): {name(desc)}"
        super().sendDisconnect(reason, desc)

    def connectionLost(self, reason):
        super().connectionLost(reason)
        said = STATE["said"] or f"connection lost: {reason.getErrorMessage()}"
        report("fail", STATE["stage"], said)


class Factory(protocol.ClientFactory):
    protocol = Transport

    def __init__(self, key, password):
        self.key, self.password = key, password

    def clientConnectionFailed(self, connector, reason):
        report("fail", "connect", reason.getErrorMessage())


def main():
    key, password = None, None
    if C.pwfile:
        password = secret(C.pwfile)
    else:
        try:
            key = keys.Key.fromFile(C.key, passphrase=(secret(C.passfile) or "").encode() or None)
        except Exception as e:
            return result("fail", "key-load", f"{type(e).__name__}: {e}")
    reactor.connectTCP(C.host, C.port, Factory(key, password), timeout=C.timeout)
    reactor.callLater(C.timeout, report, "fail", "connect", "no answer within the timeout")
    reactor.run()
    if not STATE["done"]:
        result("fail", STATE["stage"], STATE["said"] or "the client stopped")
    sys.stdout.flush()


main()
