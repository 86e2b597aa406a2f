//! A client's log read into login attempts: the OpenSSH client (`ssh -v` to `-vvv`, and its
//! one-line errors without `-v`); paramiko's DEBUG logging in [`super::paramiko`].

use serde::Serialize;
use sshmatrix_reports::{Stage, Verdict};

use super::sources::{Entry, Side};
use super::{Cite, Ending, Lists, Negotiated, OfferedKey};

/// One login attempt as a client logged it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientAttempt {
    /// Which client's log (`openssh`, `paramiko`, `putty`).
    pub program: String,
    /// The client's own identification string.
    pub ident: Option<String>,
    /// The server's identification string.
    pub server_ident: Option<String>,
    /// The login name.
    pub user: Option<String>,
    /// The host as the client named it.
    pub host: Option<String>,
    /// The client's KEXINIT, when logged (`-vv` and up).
    pub kexinit: Lists,
    /// The server's KEXINIT, when logged.
    pub server_kexinit: Lists,
    /// What was negotiated.
    pub negotiated: Negotiated,
    /// The server's `server-sig-algs` extension, when logged.
    pub server_sig_algs: Option<Vec<String>>,
    /// The keys offered, in order.
    pub keys: Vec<OfferedKey>,
    /// The methods the server said can continue, last said.
    pub methods: Vec<String>,
    /// The client found no signature algorithm for a key that the server accepts.
    pub no_mutual_signature: bool,
    /// The server refused a key the client offered (PuTTY's "Server refused our key").
    pub key_refused: bool,
    /// The server took a method as a first step (OpenSSH: `Authenticated using "publickey"
    /// with partial success.`): its chain (AuthenticationMethods) wants another next.
    pub partial: bool,
    /// The methods the client went on to after the partial success (`Next authentication
    /// method: …`).
    pub tried_after_partial: Vec<String>,
    /// Why the client refused the server's host certificate, in its words (`Certificate
    /// invalid: expired`, …).
    pub host_cert_refused: Option<String>,
    /// How it ended.
    pub ending: Ending,
    /// The lines that say so.
    pub evidence: Vec<Cite>,
    /// The file it was read from.
    pub file: String,
    /// Its first line.
    pub first_line: usize,
    /// Whether the attempt ended (a later line cannot change it).
    #[serde(skip)]
    pub ended: bool,
}

/// The most lines quoted per attempt.
const MAX_EVIDENCE: usize = 40;

/// The attempts of one client log being read: the one under way and those finished, a new one
/// started where the client's log says a connection begins. What every line-by-line reader of
/// a client's log shares.
#[derive(Default)]
pub struct Attempts {
    file: String,
    client: &'static str,
    current: Option<ClientAttempt>,
    done: Vec<ClientAttempt>,
}

impl Attempts {
    /// Attempts of `client` read from `file`.
    pub fn new(client: &'static str, file: &str) -> Self {
        Attempts {
            file: file.into(),
            client,
            ..Default::default()
        }
    }

    /// The attempt line `no` belongs to: a new one when `starts` (or none is under way yet),
    /// the previous one kept if it holds anything.
    pub fn at(&mut self, starts: bool, no: usize) -> &mut ClientAttempt {
        if starts || self.current.is_none() {
            if let Some(a) = self.current.take().filter(|a| !a.is_empty()) {
                self.done.push(a);
            }
            self.current = Some(ClientAttempt::new(self.client, &self.file, no));
        }
        self.current.as_mut().expect("started")
    }

    /// The attempt under way, if any.
    pub fn current(&self) -> Option<&ClientAttempt> {
        self.current.as_ref()
    }

    /// Every attempt read, the last one too if it holds anything.
    pub fn finish(mut self) -> Vec<ClientAttempt> {
        if let Some(a) = self.current.take().filter(|a| !a.is_empty()) {
            self.done.push(a);
        }
        self.done
    }
}

impl ClientAttempt {
    /// A new attempt starting at line `no` of `file`.
    pub fn new(program: &str, file: &str, no: usize) -> Self {
        ClientAttempt {
            program: program.into(),
            file: file.into(),
            first_line: no,
            ..Default::default()
        }
    }

    /// Quotes a line as evidence.
    pub fn cite(&mut self, no: usize, text: &str) {
        if self.evidence.len() < MAX_EVIDENCE {
            self.evidence.push(Cite {
                file: self.file.clone(),
                line: no,
                text: text.to_string(),
            });
        }
    }

    /// Ends the attempt (the first ending stands).
    pub fn end(&mut self, verdict: Verdict, stage: Stage, reason: String) {
        if !self.ended {
            self.ending = Ending {
                verdict,
                stage,
                reason,
            };
            self.ended = true;
        }
    }

    /// Whether anything was read into it.
    pub fn is_empty(&self) -> bool {
        self.ident.is_none() && self.evidence.is_empty() && !self.ended
    }
}

/// Reads OpenSSH client lines into attempts.
#[derive(Default)]
pub struct OpenSshReader {
    attempts: Attempts,
    /// Which KEXINIT the list lines belong to: `Some(true)` the server's.
    proposal: Option<bool>,
}

impl OpenSshReader {
    /// A reader of lines of `file`.
    pub fn new(file: &str) -> Self {
        OpenSshReader {
            attempts: Attempts::new("openssh", file),
            ..Default::default()
        }
    }

    fn start(&mut self, no: usize) {
        self.attempts.at(true, no);
        self.proposal = None;
    }

    fn attempt(&mut self, no: usize) -> &mut ClientAttempt {
        if self.attempts.current().is_none_or(|a| a.ended) {
            self.start(no);
        }
        self.attempts.at(false, no)
    }

    /// Reads one line of the client.
    pub fn feed(&mut self, e: &Entry) {
        if e.side != Side::OpenSsh {
            return;
        }
        let t = e.text.as_str();
        let opens = (t.starts_with("OpenSSH_") && t.contains(", "))
            || t.starts_with("debug1: Connecting to");
        if opens
            && self
                .attempts
                .current()
                .is_some_and(|a| a.ident.is_some() || a.ended)
        {
            self.start(e.no);
        }
        let msg = t
            .strip_prefix("debug1: ")
            .or_else(|| t.strip_prefix("debug2: "))
            .or_else(|| t.strip_prefix("debug3: "));
        match msg {
            Some(m) => self.debug(e.no, m, t),
            None => self.plain(e.no, t),
        }
    }

    /// The attempts read (the last one too).
    pub fn finish(self) -> Vec<ClientAttempt> {
        self.attempts.finish()
    }

    /// A `debugN:` line.
    fn debug(&mut self, no: usize, m: &str, line: &str) {
        if m == "local client KEXINIT proposal" {
            self.proposal = Some(false);
            return;
        }
        if m == "peer server KEXINIT proposal" {
            self.proposal = Some(true);
            return;
        }
        if let Some(server) = self.proposal {
            if self.list_line(no, m, server) {
                return;
            }
        }
        let a = self.attempt(no);
        if let Some(rest) = m.strip_prefix("Local version string ") {
            a.ident = Some(rest.trim().to_string());
            a.cite(no, line);
        } else if let Some(rest) =
            m.strip_prefix("Remote protocol version 2.0, remote software version ")
        {
            a.server_ident = Some(format!("SSH-2.0-{}", rest.trim()));
            a.cite(no, line);
        } else if let Some(rest) = m.strip_prefix("Authenticating to ") {
            a.user = rest
                .rsplit_once(" as '")
                .map(|(_, u)| u.trim_end_matches('\'').to_string());
            a.host = rest.split_once(' ').map(|(h, _)| h.to_string());
        } else {
            negotiation(a, no, m, line);
            authentication(a, no, m, line);
        }
    }

    /// A KEXINIT list line of the proposal being read; false when the proposal has ended.
    fn list_line(&mut self, no: usize, m: &str, server: bool) -> bool {
        let a = self.attempt(no);
        let lists = match server {
            true => &mut a.server_kexinit,
            false => &mut a.kexinit,
        };
        let split = super::name_list;
        if let Some(v) = m.strip_prefix("KEX algorithms: ") {
            lists.kex = split(v);
        } else if let Some(v) = m.strip_prefix("host key algorithms: ") {
            lists.hostkey = split(v);
        } else if let Some(v) = m.strip_prefix("ciphers ctos: ") {
            lists.cipher = split(v);
        } else if let Some(v) = m.strip_prefix("MACs ctos: ") {
            lists.mac = split(v);
        } else if m.starts_with("reserved ") {
            self.proposal = None;
        } else if ![
            "ciphers stoc",
            "MACs stoc",
            "compression",
            "languages",
            "first_kex_follows",
        ]
        .iter()
        .any(|p| m.starts_with(p))
        {
            self.proposal = None;
            return false;
        }
        true
    }

    /// A line without `debugN:`: the client's own errors and its final word.
    fn plain(&mut self, no: usize, t: &str) {
        let a = self.attempt(no);
        if t.starts_with("Authenticated using ") && t.contains("with partial success") {
            a.partial = true;
            a.cite(no, t);
        } else if let Some(rest) = t.strip_prefix("Authenticated to ") {
            a.cite(no, t);
            let how = rest.rsplit_once("using ").map_or("", |(_, m)| m);
            a.end(
                Verdict::Ok,
                Stage::Login,
                format!("logged in using {}", how.trim_end_matches('.')),
            );
        } else if let Some(i) = t.find("Permission denied (") {
            a.cite(no, t);
            let methods = t[i + 19..].trim_end_matches(").").trim_end_matches(')');
            let reason = refusal(a, methods);
            a.end(Verdict::Fail, Stage::Auth, reason);
        } else if let Some(i) = t.find("Unable to negotiate with ") {
            a.cite(no, t);
            let (stage, what) = no_common(&t[i..]);
            a.end(Verdict::Fail, stage, what);
        } else if t.starts_with("Load key ") {
            a.cite(no, t);
            let reason = match t.contains("incorrect passphrase") {
                true => format!("wrong passphrase: {t}"),
                false => format!("cannot read the key file: {t}"),
            };
            a.end(Verdict::Fail, Stage::KeyLoad, reason);
        } else {
            connection_end(a, no, t);
        }
    }
}

/// Negotiation lines: what the key exchange chose, and the server's extension list.
fn negotiation(a: &mut ClientAttempt, no: usize, m: &str, line: &str) {
    let word = |s: &str| s.split_whitespace().next().map(String::from);
    if let Some(v) = m.strip_prefix("kex: algorithm: ") {
        a.negotiated.kex = word(v);
        a.cite(no, line);
    } else if let Some(v) = m.strip_prefix("kex: host key algorithm: ") {
        a.negotiated.hostkey = word(v);
        a.cite(no, line);
    } else if let Some(v) = m.strip_prefix("kex: client->server cipher: ") {
        a.negotiated.cipher = word(v);
        a.negotiated.mac = v
            .split_once("MAC: ")
            .and_then(|(_, r)| word(r))
            .filter(|m| m != "<implicit>");
        a.cite(no, line);
    } else if let Some(v) = m.strip_prefix("kex_input_ext_info: server-sig-algs=<") {
        let v = v.trim_end_matches('>');
        a.server_sig_algs = Some(v.split(',').map(String::from).collect());
        a.cite(no, line);
    }
}

/// User-authentication lines: keys offered, accepted, signed; methods; local refusals.
fn authentication(a: &mut ClientAttempt, no: usize, m: &str, line: &str) {
    if let Some(v) = m.strip_prefix("Offering public key: ") {
        a.keys.push(offered(v));
        a.cite(no, line);
    } else if m.starts_with("Server accepts key: ") {
        if let Some(k) = a.keys.last_mut() {
            k.accepted = true;
        }
        a.cite(no, line);
    } else if let Some(v) = m.strip_prefix("sign_and_send_pubkey: signing using ") {
        if let Some(k) = a.keys.last_mut() {
            k.signature = v.split_whitespace().next().map(String::from);
        }
        a.cite(no, line);
    } else if let Some(v) = m.strip_prefix("Authentications that can continue: ") {
        a.methods = v.split(',').map(|s| s.trim().to_string()).collect();
        a.cite(no, line);
    } else if m.contains("no mutual signature algorithm") {
        a.no_mutual_signature = true;
        a.cite(no, line);
    } else if let Some(method) = m.strip_prefix("Next authentication method: ") {
        if a.partial {
            a.tried_after_partial.push(method.trim().to_string());
        }
        a.cite(no, line);
    } else if m.starts_with("No more authentication methods") {
        a.cite(no, line);
    }
}

/// `FILE TYPE SHA256:FP [explicit|agent]` of an "Offering public key" line.
fn offered(v: &str) -> OfferedKey {
    let words: Vec<&str> = v.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.starts_with("SHA256:") || w.starts_with("MD5:"));
    match at {
        Some(i) if i >= 1 => OfferedKey {
            family: words[i - 1].to_string(),
            fingerprint: Some(words[i].to_string()),
            file: (i >= 2).then(|| words[..i - 1].join(" ")),
            ..Default::default()
        },
        _ => OfferedKey {
            family: words.first().copied().unwrap_or_default().to_string(),
            ..Default::default()
        },
    }
}

/// The reason of "Permission denied (METHODS)", in the words of the failure taxonomy.
fn refusal(a: &ClientAttempt, methods: &str) -> String {
    let offered_publickey = methods.split(',').any(|m| m.trim() == "publickey");
    if a.no_mutual_signature {
        return "no RSA signature algorithm the server accepts (send_pubkey_test: no mutual signature algorithm)".into();
    }
    if a.partial {
        return after_partial(a, methods);
    }
    if !offered_publickey {
        return format!("server does not offer publickey authentication (offers: {methods})");
    }
    match a.keys.last() {
        Some(k) if k.accepted => format!("server refused the {} key's signature", k.family),
        Some(k) => format!(
            "server refused the {} key (Permission denied ({methods}))",
            k.family
        ),
        None => format!("no key was offered (Permission denied ({methods}))"),
    }
}

/// A refusal after a first step the server accepted: the wanted method answered wrongly, or
/// not tried at all.
fn after_partial(a: &ClientAttempt, methods: &str) -> String {
    let wanted = |m: &str| methods.split(',').any(|w| w.trim() == m);
    let tried = |m: &str| a.tried_after_partial.iter().any(|t| t == m) && wanted(m);
    if tried("keyboard-interactive") {
        crate::words::KBDINT_REFUSED.to_string()
    } else if tried("password") {
        crate::words::PASSWORD_REFUSED.to_string()
    } else {
        format!(
            "{} and wants {methods} next; the client did not go on to it",
            crate::words::PARTIAL_NOT_CONTINUED
        )
    }
}

/// "Unable to negotiate with … no matching X found. Their offer: …".
fn no_common(t: &str) -> (Stage, String) {
    let what = t.split_once(": ").map_or(t, |(_, r)| r);
    (super::negotiation_stage(t), what.to_string())
}

/// How a connection ended before authentication decided anything.
fn connection_end(a: &mut ClientAttempt, no: usize, t: &str) {
    let ended = |stage: Stage, reason: String, a: &mut ClientAttempt| {
        a.cite(no, t);
        a.end(Verdict::Fail, stage, reason);
    };
    if t.contains("Too many authentication failures") {
        ended(
            Stage::Auth,
            format!("Too many authentication failures: {t}"),
            a,
        );
    } else if t.contains("Connection refused") {
        ended(Stage::Connect, format!("Connection refused: {t}"), a);
    } else if t.contains("Connection timed out") || t.contains("Operation timed out") {
        ended(Stage::Timeout, t.to_string(), a);
    } else if t.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        a.cite(no, t);
        a.end(Verdict::Fail, Stage::Hostkey, "host key changed".into());
    } else if t.starts_with("kex_exchange_identification")
        || t.starts_with("Connection closed by")
        || t.starts_with("Connection reset by")
        || t.starts_with("ssh_exchange_identification")
    {
        ended(Stage::Connect, format!("connection closed: {t}"), a);
    } else if crate::words::HOST_CERT_REFUSALS
        .iter()
        .any(|w| t.contains(w))
    {
        a.cite(no, t);
        a.host_cert_refused
            .get_or_insert_with(|| t.trim().to_string());
    } else if t.starts_with(crate::words::HOSTKEY_UNVERIFIED) {
        let reason = match &a.host_cert_refused {
            Some(why) => format!("host certificate refused: {why}"),
            None => format!("the host key is not verified: {t}"),
        };
        ended(Stage::Hostkey, reason, a);
    } else if t.starts_with("ssh: ") {
        ended(Stage::Connect, t.to_string(), a);
    }
}
