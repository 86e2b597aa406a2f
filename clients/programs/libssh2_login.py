"""sshmatrix's libssh2 client (the ssh2-python binding, which bundles libssh2): log in once.

argv: HOST PORT USER KEY TIMEOUT_SECS FAMILY (empty: none). Secrets are read from the 0600
files $SSHMATRIX_PASSFILE (passphrase) and $SSHMATRIX_PASSWORD_FILE (password), never argv. libssh2 reads the key file itself at
authentication. Prints `sshmatrix-negotiated ...` and one `sshmatrix-result ok` or
`sshmatrix-result fail STAGE MESSAGE` line.
"""
import socket
import os
import sys

from ssh2 import session as S
from ssh2.session import Session


def result(*words):
    print("sshmatrix-result", *words, flush=True)


def secret(path):
    if not path:
        return None
    with open(path) as f:
        return f.read().rstrip("\n")


# ssh2-python raises most errors without a message: say what the libssh2 error code means.
MEANING = {
    "FileError": "libssh2 could not read or decrypt the key file (LIBSSH2_ERROR_FILE)",
    "PublickeyUnverifiedError": "the server refused the key (LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)",
    "AuthenticationError": "authentication failed (LIBSSH2_ERROR_AUTHENTICATION_FAILED)",
    "KeyExchangeError": "key exchange failed (LIBSSH2_ERROR_KEX_FAILURE)",
}


def text(e):
    said = " ".join(str(a.decode() if isinstance(a, bytes) else a) for a in e.args) or str(e)
    return said or MEANING.get(type(e).__name__, "no message")


def negotiated(s):
    words = []
    for name, method in (("kex", S.LIBSSH2_METHOD_KEX), ("hostkey", S.LIBSSH2_METHOD_HOSTKEY),
                         ("cipher", S.LIBSSH2_METHOD_CRYPT_CS), ("mac", S.LIBSSH2_METHOD_MAC_CS)):
        v = s.methods(method)
        if v:
            words.append(f"{name}={v.decode() if isinstance(v, bytes) else v}")
    print("sshmatrix-negotiated", *words, flush=True)


def main():
    host, port, user, key, timeout, family = sys.argv[1:7]
    passfile = os.environ.get("SSHMATRIX_PASSFILE", "")
    pwfile = os.environ.get("SSHMATRIX_PASSWORD_FILE", "")
    try:
        sock = socket.create_connection((host, int(port)), timeout=float(timeout))
    except OSError as e:
        return result("fail", "connect", f"{type(e).__name__}: {e}")
    s = Session()
    s.set_timeout(int(float(timeout) * 1000))
    try:
        s.handshake(sock)
    except Exception as e:
        return result("fail", "negotiate", f"{type(e).__name__}: {text(e)}")
    negotiated(s)
    try:
        if pwfile:
            s.userauth_password(user, secret(pwfile))
        else:
            s.userauth_publickey_fromfile(user, key, passphrase=secret(passfile) or "")
    except Exception as e:
        name = type(e).__name__
        # libssh2 names a key file it cannot read or decrypt with a FileError.
        stage = "key-load" if name == "FileError" else "auth"
        return result("fail", stage, f"{name}: {text(e)}")
    try:
        s.open_session().close()
    except Exception as e:
        return result("fail", "auth", f"{type(e).__name__}: {text(e)}")
    finally:
        s.disconnect()
    result("ok")


main()
