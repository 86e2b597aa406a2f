"""sshmatrix's libssh client (the ssh-python binding, which bundles libssh): log in once.

argv: HOST PORT USER KEY TIMEOUT_SECS FAMILY (empty: none). Secrets are read from the 0600
files $SSHMATRIX_PASSFILE (passphrase) and $SSHMATRIX_PASSWORD_FILE (password), never argv;
no ssh_config is read. Prints
`sshmatrix-negotiated ...` and one `sshmatrix-result ok` or `sshmatrix-result fail STAGE
MESSAGE` line.
"""
import os
import socket
import sys

from ssh import key as sshkey
from ssh import options
from ssh.session import Session


def result(*words):
    print("sshmatrix-result", *words, flush=True)


def secret(path):
    if not path:
        return None
    with open(path) as f:
        return f.read().rstrip("\n")


def text(v):
    said = v.decode() if isinstance(v, bytes) else str(v)
    if isinstance(v, Exception) and not said:
        # ssh-python raises some errors without a message.
        return {"KeyImportError": "ssh_pki_import_privkey_file refused the key file"}.get(
            type(v).__name__, "no message")
    return said


def session(host, port, user, timeout):
    s = Session()
    s.options_set(options.HOST, host)
    s.options_set_port(int(port))
    s.options_set(options.USER, user)
    # A bool option: set through the int setter (a string would read as true).
    s.options_set_int_val(options.PROCESS_CONFIG, 0)
    s.options_set(options.TIMEOUT, str(int(float(timeout))))
    return s


def main():
    host, port, user, key, timeout, family = sys.argv[1:7]
    passfile = os.environ.get("SSHMATRIX_PASSFILE", "")
    pwfile = os.environ.get("SSHMATRIX_PASSWORD_FILE", "")
    pkey = None
    if key and not pwfile:
        try:
            p = secret(passfile)
            pkey = sshkey.import_privkey_file(key, passphrase=p.encode() if p else b"")
        except Exception as e:
            return result("fail", "key-load", f"{type(e).__name__}: {text(e)}")
    try:
        sock = socket.create_connection((host, int(port)), timeout=float(timeout))
    except OSError as e:
        return result("fail", "connect", f"{type(e).__name__}: {e}")
    s = session(host, port, user, timeout)
    s.set_socket(sock)
    try:
        s.connect()
    except Exception as e:
        return result("fail", "negotiate", f"{type(e).__name__}: {text(e)}")
    print("sshmatrix-negotiated", f"kex={text(s.get_kex_algo())}",
          f"cipher={text(s.get_cipher_out())}", flush=True)
    try:
        if pwfile:
            rc = s.userauth_password(user, secret(pwfile))
        else:
            rc = s.userauth_publickey(pkey)
        if rc != 0:
            return result("fail", "auth", f"authentication failed (rc {rc})")
        s.channel_new().open_session()
    except Exception as e:
        return result("fail", "auth", f"{type(e).__name__}: {text(e)}")
    finally:
        s.disconnect()
    result("ok")


main()
