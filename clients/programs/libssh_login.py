"""sshmatrix's libssh client (the ssh-python binding, which bundles libssh): log in once
(arguments, secrets and output: sshmatrix_cell.py). No ssh_config is read."""
from ssh import key as sshkey
from ssh import options
from ssh.session import Session
from sshmatrix_cell import cell, connect, negotiated, result, secret


def text(v):
    said = v.decode() if isinstance(v, bytes) else str(v)
    if isinstance(v, Exception) and not said:
        # ssh-python raises some errors without a message.
        return {"KeyImportError": "ssh_pki_import_privkey_file refused the key file"}.get(
            type(v).__name__, "no message")
    return said


def session(c):
    s = Session()
    s.options_set(options.HOST, c.host)
    s.options_set_port(c.port)
    s.options_set(options.USER, c.user)
    if hasattr(s, "options_set_int_val"):
        # A bool option: set through the int setter (a string would read as true).
        s.options_set_int_val(options.PROCESS_CONFIG, 0)
    else:
        # ssh-python 1.0 has no int setter: parsing an empty file marks the configuration
        # processed, so ssh_connect reads no ~/.ssh/config.
        s.options_parse_config("/dev/null")
    s.options_set(options.TIMEOUT, str(int(c.timeout)))
    return s


def main():
    c = cell()
    pkey = None
    if c.key and not c.pwfile:
        try:
            p = secret(c.passfile)
            pkey = sshkey.import_privkey_file(c.key, passphrase=p.encode() if p else b"")
        except Exception as e:
            return result("fail", "key-load", f"{type(e).__name__}: {text(e)}")
    sock = connect(c)
    if sock is None:
        return
    s = session(c)
    s.set_socket(sock)
    try:
        s.connect()
    except Exception as e:
        return result("fail", "negotiate", f"{type(e).__name__}: {text(e)}")
    negotiated(kex=text(s.get_kex_algo()), cipher=text(s.get_cipher_out()))
    try:
        rc = s.userauth_password(c.user, secret(c.pwfile)) if c.pwfile else s.userauth_publickey(pkey)
        if rc != 0:
            return result("fail", "auth", f"authentication failed (rc {rc})")
        s.channel_new().open_session()
    except Exception as e:
        return result("fail", "auth", f"{type(e).__name__}: {text(e)}")
    finally:
        s.disconnect()
    result("ok")


main()
