"""sshmatrix's AsyncSSH server: serves one connection on 127.0.0.1:PORT and exits.

argv: PORT KEYS_DIR HOST_KEY... Each account's authorized keys are the file KEYS_DIR/USER (no file:
no key is authorized); password logins are refused. Sessions run nothing: a command or a
subsystem (sshmatrix-session) ends at once with exit status 0. AsyncSSH's own log goes to
stderr at INFO; the line `sshmatrix-server listening` says the port is open. A connection
whose socket another local user owns (the kernel says so in /proc/net/tcp) is closed unserved
and logged as `sshmatrix: turned away ...`: the port is open to every local user.
"""
import asyncio
import logging
import os
import socket
import sys

import asyncssh


def owner(local, peer):
    """The uid owning the socket at `peer` connected to `local` (IPv4), from /proc/net/tcp."""
    def word(addr):
        ip, port = addr[0], addr[1]
        return "%08X:%04X" % (int.from_bytes(socket.inet_aton(ip), "little"), port)
    want_local, want_remote = word(peer), word(local)
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            f = line.split()
            if len(f) > 7 and f[1] == want_local and f[2] == want_remote:
                return int(f[7])
    return None


def main():
    port, keys_dir, host_keys = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    asyncssh.set_log_level(logging.INFO)
    asyncio.run(serve(port, host_keys, keys_dir))


async def serve(port, host_keys, keys_dir):
    done = asyncio.Event()

    class Server(asyncssh.SSHServer):
        foreign = False

        def connection_made(self, conn):
            self.conn = conn
            peer, local = conn.get_extra_info("peername"), conn.get_extra_info("sockname")
            uid = owner(local, peer)
            if uid not in (os.geteuid(), 0):
                self.foreign = True
                print("sshmatrix: turned away a connection from %s:%s by uid %s (another local user)"
                      % (peer[0], peer[1], uid), file=sys.stderr, flush=True)
                conn.abort()

        def connection_lost(self, exc):
            if not self.foreign:
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
        allow_scp=False)
    print("sshmatrix-server listening", file=sys.stderr, flush=True)
    await done.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    main()
