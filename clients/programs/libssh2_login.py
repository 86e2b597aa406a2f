"""sshmatrix's libssh2 client (the ssh2-python binding, which bundles libssh2): log in once
(arguments, secrets and output: sshmatrix_cell.py). libssh2 reads the key file itself at
authentication."""
from ssh2 import session as S
from ssh2.session import Session
from sshmatrix_cell import cell, connect, negotiated, result, secret

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


def method(s, which):
    v = s.methods(which)
    return v.decode() if isinstance(v, bytes) else v


def main():
    c = cell()
    sock = connect(c)
    if sock is None:
        return
    s = Session()
    s.set_timeout(int(c.timeout * 1000))
    try:
        s.handshake(sock)
    except Exception as e:
        return result("fail", "negotiate", f"{type(e).__name__}: {text(e)}")
    negotiated(kex=method(s, S.LIBSSH2_METHOD_KEX), hostkey=method(s, S.LIBSSH2_METHOD_HOSTKEY),
               cipher=method(s, S.LIBSSH2_METHOD_CRYPT_CS), mac=method(s, S.LIBSSH2_METHOD_MAC_CS))
    try:
        if c.pwfile:
            s.userauth_password(c.user, secret(c.pwfile))
        else:
            s.userauth_publickey_fromfile(c.user, c.key, passphrase=secret(c.passfile) or "")
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
