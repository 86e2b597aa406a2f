"""sshmatrix's paramiko client: log in once with a key file (or a password) and report.

argv: HOST PORT USER KEY TIMEOUT_SECS FAMILY (empty: none). Secrets are read from the 0600
files $SSHMATRIX_PASSFILE (passphrase) and $SSHMATRIX_PASSWORD_FILE (password), never argv. Prints `sshmatrix-negotiated ...` when the
transport is up and one `sshmatrix-result ok` or `sshmatrix-result fail STAGE MESSAGE` line.
"""
import logging
import socket
import os
import sys
import warnings

warnings.simplefilter("ignore")

import paramiko  # noqa: E402

CLASSES = {
    "rsa": "RSAKey",
    "ecdsa": "ECDSAKey",
    "ed25519": "Ed25519Key",
    "dsa": "DSSKey",
}


def result(*words):
    print("sshmatrix-result", *words, flush=True)


def secret(path):
    if not path:
        return None
    with open(path) as f:
        return f.read().rstrip("\n")


class Kex(logging.Handler):
    """Remembers the key exchange paramiko's transport log names."""

    kex = None

    def emit(self, record):
        msg = record.getMessage()
        for mark in ("Kex agreed: ", "Kex: "):
            if msg.startswith(mark) and Kex.kex is None:
                Kex.kex = msg[len(mark):].strip().split(",")[0].strip("[]' ")


def load_key(path, family, passphrase):
    cls = getattr(paramiko, CLASSES.get(family, ""), None)
    if cls is None:
        raise paramiko.SSHException(f"paramiko {paramiko.__version__} has no {family} key class")
    return cls.from_private_key_file(path, password=passphrase)


def negotiated(t):
    words = [f"hostkey={t.host_key_type}", f"cipher={t.local_cipher}", f"mac={t.local_mac}"]
    if Kex.kex:
        words.insert(0, f"kex={Kex.kex}")
    print("sshmatrix-negotiated", *words, flush=True)


def main():
    host, port, user, key, timeout, family = sys.argv[1:7]
    passfile = os.environ.get("SSHMATRIX_PASSFILE", "")
    pwfile = os.environ.get("SSHMATRIX_PASSWORD_FILE", "")
    timeout = float(timeout)
    log = logging.getLogger("paramiko.transport")
    log.setLevel(logging.DEBUG)
    log.addHandler(Kex())
    pkey = None
    if key and not pwfile:
        try:
            pkey = load_key(key, family, secret(passfile))
        except Exception as e:
            return result("fail", "key-load", f"{type(e).__name__}: {e}")
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout)
    except OSError as e:
        return result("fail", "connect", f"{type(e).__name__}: {e}")
    t = paramiko.Transport(sock)
    try:
        t.start_client(timeout=timeout)
    except Exception as e:
        return result("fail", "negotiate", f"{type(e).__name__}: {e}")
    negotiated(t)
    try:
        if pwfile:
            t.auth_password(user, secret(pwfile))
        else:
            t.auth_publickey(user, pkey)
        t.open_session(timeout=timeout).close()
    except Exception as e:
        return result("fail", "auth", f"{type(e).__name__}: {e}")
    finally:
        t.close()
    result("ok")


main()
