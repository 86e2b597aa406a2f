"""sshmatrix's AsyncSSH client: log in once with a key file (or a password) and report
(arguments, secrets and output: sshmatrix_cell.py). No agent but an agent cell's, no
~/.ssh/config, no known_hosts but $SSHMATRIX_KNOWN_HOSTS (a target presenting host
certificates: its `@cert-authority` line)."""
import asyncio
import inspect
import os
import warnings

warnings.simplefilter("ignore")

import asyncssh  # noqa: E402
from sshmatrix_cell import cell, result, secret  # noqa: E402


def options(c, key):
    known_hosts = os.environ.get("SSHMATRIX_KNOWN_HOSTS") or None
    opts = dict(username=c.user, known_hosts=known_hosts, agent_path=None)
    if c.pwfile:
        opts.update(client_keys=None, password=secret(c.pwfile))
    elif c.agent:
        # The agent's keys are given as the client keys (login() fetches them): client_keys=None
        # would turn keys and agent off, and () would add ~/.ssh's keys.
        opts.update(password=None)
    elif os.environ.get("SSHMATRIX_CERT"):
        cert = asyncssh.read_certificate(os.environ["SSHMATRIX_CERT"])
        opts.update(client_keys=[(key, cert)], password=None)
    else:
        opts.update(client_keys=[key], password=None)
    known = inspect.signature(asyncssh.SSHClientConnectionOptions.prepare).parameters
    if "preferred_auth" in known:
        opts["preferred_auth"] = "password" if c.pwfile else "publickey"
    # AsyncSSH 2.8+ reads ~/.ssh/config unless told not to.
    if "config" in known:
        opts["config"] = None
    return opts


def stage_of(e):
    if isinstance(e, asyncssh.HostKeyNotVerifiable):
        return "hostkey"
    if isinstance(e, asyncssh.PermissionDenied):
        return "auth"
    if isinstance(e, asyncssh.KeyExchangeFailed):
        return "negotiate"
    if isinstance(e, OSError):
        return "connect"
    return "auth" if "auth" in str(e).lower() else "negotiate"


async def login(c, opts):
    if c.agent:
        agent = await asyncssh.connect_agent(c.agent)
        opts["client_keys"] = await agent.get_keys()
    conn = await asyncio.wait_for(asyncssh.connect(c.host, c.port, **opts), c.timeout)
    try:
        chan, _ = await conn.create_session(asyncssh.SSHClientSession)
        chan.close()
    finally:
        conn.close()


def main():
    c = cell()
    key = None
    if c.key and not c.pwfile and not c.agent:
        try:
            key = asyncssh.read_private_key(c.key, secret(c.passfile))
        except Exception as e:
            return result("fail", "key-load", f"{type(e).__name__}: {e}")
    try:
        asyncio.run(login(c, options(c, key)))
    except Exception as e:
        return result("fail", stage_of(e), f"{type(e).__name__}: {e}")
    result("ok")


main()
