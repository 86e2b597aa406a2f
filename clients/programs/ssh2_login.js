// sshmatrix's Node ssh2 client: log in once with a key file (or a password) and report.
//
// argv: HOST PORT USER KEY TIMEOUT_SECS FAMILY (empty: none). Secrets are read from the 0600
// files $SSHMATRIX_PASSFILE (passphrase) and $SSHMATRIX_PASSWORD_FILE (password), never argv;
// $SSHMATRIX_AGENT_SOCK names an agent cell's ssh-agent.
// Prints `sshmatrix-negotiated ...` and one
// `sshmatrix-result ok` or `sshmatrix-result fail STAGE MESSAGE` line.
'use strict';
const fs = require('fs');
const { Client } = require('ssh2');

const [host, port, user, key, timeout] = process.argv.slice(2);
const passfile = process.env.SSHMATRIX_PASSFILE;
const pwfile = process.env.SSHMATRIX_PASSWORD_FILE;
const agentSock = process.env.SSHMATRIX_AGENT_SOCK;
const secret = (p) => (p ? fs.readFileSync(p, 'utf8').replace(/\n$/, '') : undefined);
let done = false;
const result = (...words) => {
  if (done) return;
  done = true;
  console.log(['sshmatrix-result', ...words].join(' '));
};

// Both 0.8 and 1.x name the agreed algorithms in their debug output.
const seen = {};
const marks = [
  [/(?:Handshake|DEBUG): KEX algorithm: (\S+)/, 'kex'],
  [/(?:Handshake|DEBUG): Host key format: (\S+)/, 'hostkey'],
  [/(?:Handshake|DEBUG): (?:C->S|Client->Server) [Cc]ipher: (\S+)/, 'cipher'],
  [/(?:Handshake|DEBUG): (?:C->S MAC|Client->Server HMAC algorithm): (\S+)/, 'mac'],
];
const debug = (line) => {
  for (const [re, k] of marks) {
    const m = re.exec(line);
    if (m && !seen[k]) seen[k] = m[1];
  }
};

const config = {
  host, port: Number(port), username: user, readyTimeout: Number(timeout) * 1000,
  agent: undefined, tryKeyboard: false, debug,
};
if (pwfile) {
  config.password = secret(pwfile);
} else if (agentSock) {
  config.agent = agentSock;
} else {
  config.privateKey = fs.readFileSync(key);
  const p = secret(passfile);
  if (p !== undefined) config.passphrase = p;
}

const conn = new Client();
conn.on('ready', () => {
  const words = Object.entries(seen).map(([k, v]) => `${k}=${v}`);
  if (words.length) console.log(['sshmatrix-negotiated', ...words].join(' '));
  result('ok');
  conn.end();
});
conn.on('error', (err) => {
  const stage = err.level === 'client-authentication' ? 'auth'
    : err.level === 'client-socket' ? 'connect' : 'negotiate';
  result('fail', stage, `${err.message}`);
});
conn.on('close', () => result('fail', 'negotiate', 'connection closed before login'));
try {
  conn.connect(config);
} catch (err) {
  // Key parsing errors are thrown by connect() itself.
  result('fail', 'key-load', `${err.message}`);
}
