"""What every sshmatrix Python client program shares: the cell's arguments and secrets, the
result line, and the connected socket.

argv: HOST PORT USER KEY TIMEOUT_SECS FAMILY (empty: none). Secrets are read from the 0600
files $SSHMATRIX_PASSFILE (the key's passphrase) and $SSHMATRIX_PASSWORD_FILE (a password
cell; with a KEY, a two-step cell's second step), never argv; $SSHMATRIX_AGENT_SOCK names the ssh-agent of an agent cell (its one key). A program prints `sshmatrix-negotiated k=v ...` when its transport is up
and one `sshmatrix-result ok` or `sshmatrix-result fail STAGE MESSAGE` line.
"""
import os
import socket
import sys
from collections import namedtuple

Cell = namedtuple("Cell", "host port user key timeout family passfile pwfile agent")


def cell():
    """The cell this program runs, from argv and the environment."""
    host, port, user, key, timeout, family = sys.argv[1:7]
    return Cell(host, int(port), user, key, float(timeout), family,
                os.environ.get("SSHMATRIX_PASSFILE", ""),
                os.environ.get("SSHMATRIX_PASSWORD_FILE", ""),
                os.environ.get("SSHMATRIX_AGENT_SOCK", ""))


def result(*words):
    print("sshmatrix-result", *words, flush=True)


def negotiated(**algs):
    words = [f"{k}={v}" for k, v in algs.items() if v]
    print("sshmatrix-negotiated", *words, flush=True)


def secret(path):
    """A secret from its file (None for no file), without the trailing newline."""
    if not path:
        return None
    with open(path) as f:
        return f.read().rstrip("\n")


def connect(c):
    """A socket to the cell's server, or None after reporting why not."""
    try:
        return socket.create_connection((c.host, c.port), timeout=c.timeout)
    except OSError as e:
        result("fail", "connect", f"{type(e).__name__}: {e}")
        return None
