"""sshmatrix's AsyncSSH client: log in once with a key file (or a password) and report.

argv: HOST PORT USER KEY TIMEOUT_SECS FAMILY (empty: none). Secrets are read from the 0600
files $SSHMATRIX_PASSFILE (passphrase) and $SSHMATRIX_PASSWORD_FILE (password), never argv. No agent, no ~/.ssh/config, no known_hosts.
Prints one `sshmatrix-result ok` or `sshmatrix-result fail STAGE MESSAGE` line.
"""
import asyncio
import inspect
import os
import sys
import warnings

warnings.simplefilter("ignore")

import asyncssh  # noqa: E402


def result(*words):
    print("sshmatrix-result", *words, flush=True)


def secret(path):
    if not path:
        return None
    with open(path) as f:
        return f.read().rstrip("\n")


def options(user, key, pwfile):
    opts = dict(username=user, known_hosts=None, agent_path=None)
    if pwfile:
        opts.update(client_keys=None, password=secret(pwfile))
    else:
        opts.update(client_keys=[key], password=None)
    known = inspect.signature(asyncssh.SSHClientConnectionOptions.prepare).parameters
    if "preferred_auth" in known:
        opts["preferred_auth"] = "password" if pwfile else "publickey"
    # AsyncSSH 2.8+ reads ~/.ssh/config unless told not to.
    if "config" in known:
        opts["config"] = None
    return opts


def stage_of(e):
    if isinstance(e, asyncssh.PermissionDenied):
        return "auth"
    if isinstance(e, asyncssh.KeyExchangeFailed):
        return "negotiate"
    if isinstance(e, OSError):
        return "connect"
    return "auth" if "auth" in str(e).lower() else "negotiate"


async def login(host, port, opts, timeout):
    conn = await asyncio.wait_for(asyncssh.connect(host, port, **opts), timeout)
    try:
        chan, _ = await conn.create_session(asyncssh.SSHClientSession)
        chan.close()
    finally:
        conn.close()


def main():
    host, port, user, key, timeout, family = sys.argv[1:7]
    passfile = os.environ.get("SSHMATRIX_PASSFILE", "")
    pwfile = os.environ.get("SSHMATRIX_PASSWORD_FILE", "")
    pkey = None
    if key and not pwfile:
        try:
            pkey = asyncssh.read_private_key(key, secret(passfile))
        except Exception as e:
            return result("fail", "key-load", f"{type(e).__name__}: {e}")
    try:
        asyncio.run(login(host, int(port), options(user, pkey, pwfile), float(timeout)))
    except Exception as e:
        return result("fail", stage_of(e), f"{type(e).__name__}: {e}")
    result("ok")


main()
