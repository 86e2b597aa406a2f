"""sshmatrix's AsyncSSH server: serves one connection on 127.0.0.1:PORT and exits (with --many:
every connection until it is stopped, for `sshmatrix serve`).

argv: [--many] [--emulate PROFILE] PORT KEYS_DIR HOST_KEY... Each account's authorized keys are the file KEYS_DIR/USER (no file:
no key is authorized); password logins are refused. Sessions run nothing: a command or a
subsystem (sshmatrix-session) ends at once with exit status 0. AsyncSSH's own log goes to
stderr at INFO; the line `sshmatrix-server listening` says the port is open. A connection
whose socket another local user owns (the kernel says so in /proc/net/tcp) is closed unserved
and logged as `sshmatrix: turned away ...`: the port is open to every local user.

With --emulate, PROFILE (TOML: a server policy's facts) makes the server another release as far
as a login depends on it: its identification string, its KEXINIT lists, whether it sends
ext-info and what its server-sig-algs say, strict key exchange or not, the signature algorithms
and RSA sizes it accepts in public-key authentication, the failures it allows before
disconnecting, and the release's own log lines (filled in from the profile's `log` table).
AsyncSSH's own log is then kept to warnings: the log is the emulated release's.
"""
import asyncio
import base64
import hashlib
import logging
import tomllib
import os
import socket
import sys

import asyncssh


def owner(local, peer):
    """The uid owning the socket at `peer` connected to `local` (IPv4), from /proc/net/tcp, or
    from /proc/net/tcp6 for a client on a dual-stack socket (Java's) with IPv4-mapped addresses."""
    def word(addr):
        return "%08X:%04X" % (int.from_bytes(socket.inet_aton(addr[0]), "little"), addr[1])

    def mapped(addr):
        return "0000000000000000FFFF0000" + word(addr)
    for table, form in (("/proc/net/tcp", word), ("/proc/net/tcp6", mapped)):
        want_local, want_remote = form(peer), form(local)
        with open(table) as rows:
            for line in rows.readlines()[1:]:
                f = line.split()
                if len(f) > 7 and f[1] == want_local and f[2] == want_remote:
                    return int(f[7])
    return None


def say(line):
    print(line, file=sys.stderr, flush=True)


# The pseudo-algorithms of a KEXINIT's key exchange list that AsyncSSH adds itself.
EXTRAS = ("ext-info-s", "kex-strict-s-v00@openssh.com")


def rsa_bits(blob):
    """The modulus size of an ssh-rsa public key blob, None for another key type."""
    packet = asyncssh.packet.SSHPacket(blob)
    if packet.get_string() != b"ssh-rsa":
        return None
    packet.get_mpint()
    return packet.get_mpint().bit_length()


def padded(key_data, signature):
    """An RSA signature left-padded to the modulus' length, as OpenSSH (ssh-rsa.c) and
    Dropbear (a number, not a byte string) read one a client sent short; AsyncSSH refuses it."""
    bits = rsa_bits(key_data)
    if bits is None or not signature:
        return signature
    packet = asyncssh.packet.SSHPacket(signature)
    alg, sig = packet.get_string(), packet.get_string()
    size = (bits + 7) // 8
    if len(sig) >= size:
        return signature
    return asyncssh.packet.String(alg) + asyncssh.packet.String(bytes(size - len(sig)) + sig)


def fingerprints(blob):
    """The fields naming a key in a log line: MD5 (colon hex) and SHA256 (base64)."""
    md5 = hashlib.md5(blob).hexdigest()
    sha = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return dict(fp_md5=":".join(md5[i:i + 2] for i in range(0, 32, 2)), fp_sha256="SHA256:" + sha)


def fill(profile, what, **fields):
    """The release's log line `what` with its fields filled in ('' when it logs none)."""
    return profile.get("log", {}).get(what, "").format(**fields)


def emulate(profile):
    """Patches AsyncSSH's server classes to behave as the profile's release."""
    conn = asyncssh.connection.SSHServerConnection
    extras = [a.encode() for a in profile["kex"] if a in EXTRAS]
    conn._get_extra_kex_algs = lambda self: list(extras)
    # AsyncSSH turns strict key exchange on when the client asks for it, whatever the server
    # offered: a release without it must keep it off (else the two count packets apart).
    if b"kex-strict-s-v00@openssh.com" not in extras:
        kexinit = conn._packet_handlers[asyncssh.constants.MSG_KEXINIT]

        async def lenient(self, *args):
            result = await kexinit(self, *args)
            self._strict_kex = False
            return result
        conn._packet_handlers = {**conn._packet_handlers,
                                 asyncssh.constants.MSG_KEXINIT: lenient}
    sig_algs = ",".join(profile.get("server_sig_algs", [])).encode()
    send_ext_info = conn._send_ext_info

    def ext_info(self):
        # A release without ext-info sends none; one with it sends only server-sig-algs.
        if sig_algs:
            self._extensions_to_send = {b"server-sig-algs": sig_algs}
            send_ext_info(self)
    conn._send_ext_info = ext_info

    # The host key algorithms: the release's, in its order, those it has a key for.
    init = conn.__init__
    hostkey = [a.encode() for a in profile["hostkey"]]

    def initialised(self, *args, **kwargs):
        init(self, *args, **kwargs)
        # AsyncSSH picks the key for the first algorithm of the client's list it has a key
        # for: only the release's algorithms may be found.
        keys = self._server_host_keys
        self._server_host_keys = {a: keys[a] for a in hostkey if a in keys}
        self._server_host_key_algs = list(self._server_host_keys)
    conn.__init__ = initialised

    accepted = set(profile["pubkey_algorithms"])
    floor = profile.get("rsa_min_bits", 0)
    tries = profile.get("auth_tries") or 10
    pubkey = asyncssh.auth._ServerPublicKeyAuth
    start = pubkey._start

    async def checked(self, packet):
        at = packet._idx
        packet.get_boolean()
        alg = packet.get_string().decode("ascii", "replace")
        blob = packet.get_string()
        packet._idx = at
        peer = self._conn.get_extra_info("peername")
        fields = dict(user=self._username, alg=alg, addr=peer[0], port=peer[1],
                      **fingerprints(blob))
        bits = rsa_bits(blob)
        if alg not in accepted:
            refused = fill(profile, "unknown_algorithm", **fields)
        elif bits is not None and bits < floor:
            refused = fill(profile, "rsa_too_small", bits=bits, **fields)
        else:
            refused = None
        if refused is None:
            await start(self, packet)
            return
        if refused:
            say(refused)
        self.send_failure()
        if profile.get("counts_refused_keys", True):
            failed(self._conn, fields)
    pubkey._start = checked

    validate = conn.validate_public_key

    async def validated(self, username, key_data, msg, signature):
        if not profile.get("rsa_signature_exact_length", False):
            signature = padded(key_data, signature)
        ok = await validate(self, username, key_data, msg, signature)
        if msg and signature:
            # Not the release's line: the emulator's, so the report knows the algorithm used.
            used = asyncssh.packet.SSHPacket(signature).get_string().decode("ascii", "replace")
            say("emulated server: signature algorithm %s (%s)" % (used, "valid" if ok else "invalid"))
        peer = self.get_extra_info("peername")
        fields = dict(user=username, addr=peer[0], port=peer[1], alg="",
                      **fingerprints(key_data))
        if ok and msg:
            say(fill(profile, "accepted", **fields))
        elif not ok:
            line = fill(profile, "failed", **fields)
            if line:
                say(line)
            failed(self, fields)
        return ok
    conn.validate_public_key = validated

    def failed(c, fields):
        c.sshmatrix_failures = getattr(c, "sshmatrix_failures", 0) + 1
        if c.sshmatrix_failures >= tries:
            line = fill(profile, "too_many", **fields)
            if line:
                say(line)
            c.disconnect(asyncssh.DISC_PROTOCOL_ERROR,
                         fill(profile, "too_many_message", **fields) or "too many failures")


def options(profile):
    """create_server's options for the profile's algorithm lists and identification."""
    if profile is None:
        return {}
    return dict(
        server_version=profile["ident"],
        kex_algs=[a for a in profile["kex"] if a not in EXTRAS],
        encryption_algs=profile["ciphers"],
        mac_algs=profile["macs"],
        compression_algs=profile["compression"],
        signature_algs=profile["pubkey_algorithms"],
    )


def main():
    args = sys.argv[1:]
    profile, many = None, False
    while args[:1] in (["--emulate"], ["--many"]):
        if args[0] == "--many":
            many, args = True, args[1:]
            continue
        with open(args[1], "rb") as f:
            profile = tomllib.load(f)
        args = args[2:]
    port, keys_dir, host_keys = int(args[0]), args[1], args[2:]
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    asyncssh.set_log_level(logging.WARNING if profile else logging.INFO)
    if profile:
        emulate(profile)
    asyncio.run(serve(port, host_keys, keys_dir, profile, many))


async def serve(port, host_keys, keys_dir, profile, many):
    done = asyncio.Event()

    class Server(asyncssh.SSHServer):
        foreign = False

        def connection_made(self, conn):
            self.conn = conn
            peer, local = conn.get_extra_info("peername"), conn.get_extra_info("sockname")
            if profile:
                line = fill(profile, "connection", addr=peer[0], port=peer[1],
                            laddr=local[0], lport=local[1])
                # A release that logs no connection: the emulator says it saw one.
                say(line or "emulated server: Connection from %s port %d" % (peer[0], peer[1]))
            uid = owner(local, peer)
            if uid not in (os.geteuid(), 0):
                self.foreign = True
                print("sshmatrix: turned away a connection from %s:%s by uid %s (another local user)"
                      % (peer[0], peer[1], uid), file=sys.stderr, flush=True)
                conn.abort()

        def connection_lost(self, exc):
            # The engine's own failure (a protocol error, no common algorithm), not the client
            # going away.
            ended = (asyncssh.Error, ) if profile else ()
            if isinstance(exc, ended) and not isinstance(exc, asyncssh.ConnectionLost) \
                    and not self.foreign:
                say("emulated server: connection lost: %s" % exc)
            if not self.foreign and not many:
                done.set()

        def begin_auth(self, username):
            path = os.path.join(keys_dir, os.path.basename(username))
            if os.path.isfile(path):
                self.conn.set_authorized_keys(path)
            return True

        def public_key_auth_supported(self):
            return True

        def password_auth_supported(self):
            return False

    def session(process):
        process.exit(0)

    server = await asyncssh.create_server(
        Server, "127.0.0.1", port, server_host_keys=host_keys, process_factory=session,
        allow_scp=False, **options(profile))
    print("sshmatrix-server listening", file=sys.stderr, flush=True)
    await done.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    main()
