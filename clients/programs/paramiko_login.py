"""sshmatrix's paramiko client: log in once with a key file (or a password) and report
(arguments, secrets and output: sshmatrix_cell.py)."""
import logging
import os
import warnings

warnings.simplefilter("ignore")

import paramiko  # noqa: E402
from sshmatrix_cell import cell, connect, negotiated, result, secret  # noqa: E402

CLASSES = {"rsa": "RSAKey", "ecdsa": "ECDSAKey", "ed25519": "Ed25519Key", "dsa": "DSSKey"}


class Kex(logging.Handler):
    """Remembers the key exchange paramiko's transport log names (2.x: "Kex agreed", 3+: "Kex")."""

    kex = None

    def emit(self, record):
        msg = record.getMessage()
        for mark in ("Kex agreed: ", "Kex: "):
            if msg.startswith(mark) and Kex.kex is None:
                Kex.kex = msg[len(mark):].strip()


def load_key(path, family, passphrase):
    cls = getattr(paramiko, CLASSES.get(family, ""), None)
    if cls is None:
        raise paramiko.SSHException(f"paramiko {paramiko.__version__} has no {family} key class")
    return cls.from_private_key_file(path, password=passphrase)


def agent_key(sock):
    """The one key of the cell's ssh-agent."""
    os.environ["SSH_AUTH_SOCK"] = sock
    keys = paramiko.Agent().get_keys()
    if not keys:
        raise paramiko.SSHException("the agent holds no key")
    return keys[0]


def host_key_refused(t, c):
    """With $SSHMATRIX_KNOWN_HOSTS, why the server's key is not trusted, as SSHClient's
    load_host_keys and RejectPolicy say it; else None. paramiko reads no `@cert-authority`
    line: HostKeyEntry.from_line takes `*` for the key type and the key type for base64, and
    raises InvalidHostKey (paramiko issues 771, 2277)."""
    path = os.environ.get("SSHMATRIX_KNOWN_HOSTS")
    if not path:
        return None
    try:
        keys = paramiko.HostKeys(path)
    except paramiko.hostkeys.InvalidHostKey as e:
        start = " ".join(e.line.split()[:3])
        return f"InvalidHostKey: cannot read the known_hosts line '{start} …' ({e.exc})"
    name = c.host if c.port == 22 else f"[{c.host}]:{c.port}"
    key = t.get_remote_server_key()
    known = keys.lookup(name) or {}
    if known.get(key.get_name()) == key:
        return None
    return f"SSHException: Server {name!r} not found in known_hosts"


def main():
    c = cell()
    log = logging.getLogger("paramiko.transport")
    log.setLevel(logging.DEBUG)
    log.addHandler(Kex())
    pkey = None
    if c.key:
        try:
            if c.agent:
                pkey = agent_key(c.agent)
            else:
                pkey = load_key(c.key, c.family, secret(c.passfile))
                if os.environ.get("SSHMATRIX_CERT"):
                    pkey.load_certificate(os.environ["SSHMATRIX_CERT"])
        except Exception as e:
            return result("fail", "key-load", f"{type(e).__name__}: {e}")
    sock = connect(c)
    if sock is None:
        return
    t = paramiko.Transport(sock)
    try:
        t.start_client(timeout=c.timeout)
    except Exception as e:
        return result("fail", "negotiate", f"{type(e).__name__}: {e}")
    negotiated(kex=Kex.kex, hostkey=t.host_key_type, cipher=t.local_cipher, mac=t.local_mac)
    refused = host_key_refused(t, c)
    if refused:
        t.close()
        return result("fail", "hostkey", refused)
    try:
        if c.pwfile and not c.key:
            t.auth_password(c.user, secret(c.pwfile))
        else:
            remaining = t.auth_publickey(c.user, pkey)
            # A two-step cell: on partial success the password, as paramiko's SSHClient._auth
            # goes on to it ("two_factor": password or keyboard-interactive; auth_password
            # falls back to keyboard-interactive, answering its one prompt, when the server
            # offers only that).
            if remaining and c.pwfile and {"password", "keyboard-interactive"} & set(remaining):
                t.auth_password(c.user, secret(c.pwfile))
            elif remaining:
                # Partial success and nothing to go on with: SSHClient would give up too.
                return result("fail", "auth", f"partial success; the server wants {','.join(remaining)} next")
        t.open_session(timeout=c.timeout).close()
    except Exception as e:
        return result("fail", "auth", f"{type(e).__name__}: {e}")
    finally:
        t.close()
    result("ok")


main()
