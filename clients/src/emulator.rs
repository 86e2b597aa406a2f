//! The russh-based client emulator: speaks to a server the way a profile says the real client
//! does, and reports the verdict with the stage and the client-side reason.
//!
//! Negotiation is first computed over the profile's *full* lists against the server's KEXINIT;
//! when that outcome needs an algorithm the engine cannot speak, the cell is an emulation limit
//! instead of silently differing. Otherwise the engine proposes the profile's lists minus what it
//! cannot speak (which cannot change the outcome) and runs the real exchange.

use std::borrow::Cow;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, AuthResult, DisconnectReason};
use russh::keys::ssh_key::{Algorithm, HashAlg, PrivateKey};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{cipher, compression, kex, mac, AlgorithmKind, MethodKind, Preferred, SshId};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::negotiate::{self, Category, Negotiated, ServerHello};
use crate::profile::{KexLists, Profile, RsaFallback, RsaSignatureMode};

/// The verdict and stage vocabulary, defined once in the result schema.
pub use sshmatrix_core::vocab::{Code, Stage, Verdict};

/// The stage a negotiation category fails at.
pub fn stage_of(c: Category) -> Stage {
    match c {
        Category::Kex => Stage::Kex,
        Category::Hostkey => Stage::Hostkey,
        Category::Cipher => Stage::Cipher,
        Category::Mac => Stage::Mac,
        Category::Compression => Stage::Compression,
    }
}

/// What the client side saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientOutcome {
    /// ok / fail / error.
    pub verdict: Verdict,
    /// Where it ended.
    pub stage: Stage,
    /// The client-side reason in words.
    pub reason: String,
    /// Negotiated algorithms, when key exchange got that far.
    pub negotiated: Option<Negotiated>,
    /// The public-key algorithm named in the signed request (e.g. `ssh-rsa`, `rsa-sha2-512`).
    pub signature: Option<String>,
    /// Methods the server offered after the `none` request.
    pub methods: Vec<String>,
    /// Notes about how the engine deviated from the real client without changing the outcome.
    pub notes: Vec<String>,
    /// A signal from outside sshmatrix ended the client or its server (a terminal's Ctrl-C
    /// reaching a child being started): the outcome is no measurement.
    pub stopped_from_outside: bool,
    /// The failure code, when whoever produced the outcome knows the cause (a host key that
    /// changed, a method the server does not offer, a budget spent); otherwise the diagnosis
    /// derives one from both sides' evidence.
    pub code: Option<Code>,
}

impl ClientOutcome {
    /// An outcome with nothing negotiated, signed or noted yet.
    pub fn new(verdict: Verdict, stage: Stage, reason: impl Into<String>) -> Self {
        ClientOutcome {
            verdict,
            stage,
            reason: reason.into(),
            negotiated: None,
            signature: None,
            methods: Vec::new(),
            notes: Vec::new(),
            stopped_from_outside: false,
            code: None,
        }
    }

    /// The same outcome with the cause its producer knows.
    pub fn with_code(mut self, code: Code) -> Self {
        self.code = Some(code);
        self
    }
}

/// Whether the engine (russh) can speak an algorithm of a category.
pub fn engine_supports(category: Category, name: &str) -> bool {
    match category {
        Category::Kex => kex_name(name).is_some() && !negotiate::is_marker(name),
        Category::Hostkey => Algorithm::from_str(name).is_ok_and(|a| {
            russh::keys::key::ALL_KEY_TYPES
                .iter()
                .any(|k| k.as_str() == a.as_str())
                || matches!(a, Algorithm::Rsa { .. })
        }),
        Category::Cipher => cipher::ALL_CIPHERS
            .iter()
            .any(|c| c.as_ref() == name && name != "none"),
        Category::Mac => mac::ALL_MAC_ALGORITHMS
            .iter()
            .any(|m| m.as_ref() == name && name != "none"),
        Category::Compression => compression::ALL_COMPRESSION_ALGORITHMS
            .iter()
            .any(|c| c.as_ref() == name),
    }
}

fn kex_name(name: &str) -> Option<kex::Name> {
    match name {
        "ext-info-c" => Some(kex::EXTENSION_SUPPORT_AS_CLIENT),
        "kex-strict-c-v00@openssh.com" => Some(kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT),
        n => kex::Name::try_from(n).ok(),
    }
}

/// The algorithms of a negotiation outcome that the engine cannot speak.
pub fn unsupported(n: &Negotiated) -> Vec<(Category, String)> {
    let mut out = Vec::new();
    for (cat, name) in [
        (Category::Kex, Some(&n.kex)),
        (Category::Hostkey, Some(&n.hostkey)),
        (Category::Cipher, Some(&n.cipher)),
        (Category::Mac, n.mac.as_ref()),
        (Category::Compression, Some(&n.compression)),
    ] {
        if let Some(name) = name {
            if !engine_supports(cat, name) {
                out.push((cat, name.clone()));
            }
        }
    }
    out
}

/// The russh preferences for a profile: its lists minus what the engine cannot speak.
pub fn preferred(profile: &Profile) -> Preferred {
    preferred_lists(&profile.kexinit)
}

/// The russh preferences for a client's lists, minus what the engine cannot speak.
pub fn preferred_lists(l: &KexLists) -> Preferred {
    Preferred {
        kex: Cow::Owned(l.kex.iter().filter_map(|n| kex_name(n)).collect()),
        key: Cow::Owned(
            l.hostkey
                .iter()
                .filter(|n| engine_supports(Category::Hostkey, n))
                .filter_map(|n| Algorithm::from_str(n).ok())
                .collect(),
        ),
        host_key_certificates: Cow::Owned(Vec::new()),
        cipher: Cow::Owned(
            l.cipher
                .iter()
                .filter_map(|n| cipher::Name::try_from(n.as_str()).ok())
                .collect(),
        ),
        mac: Cow::Owned(
            l.mac
                .iter()
                .filter_map(|n| mac::Name::try_from(n.as_str()).ok())
                .collect(),
        ),
        compression: Cow::Owned(
            l.compression
                .iter()
                .filter_map(|n| compression::Name::try_from(n.as_str()).ok())
                .collect(),
        ),
    }
}

#[derive(Default)]
struct Seen {
    names: Option<(String, String, String, String)>,
    disconnect: Option<String>,
    host_key_changed: Option<String>,
    /// Forwarded agent channels the server opened.
    agent_used: usize,
}

struct Recorder {
    seen: Arc<Mutex<Seen>>,
    known_host_key: Option<russh::keys::ssh_key::PublicKey>,
    host_key_pin: Option<String>,
    /// The agent socket that forwarded agent channels are bridged to.
    agent: Option<PathBuf>,
}

impl client::Handler for Recorder {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // Without a known host key: like a first connection that accepts the new key. With one:
        // as a client with a known_hosts entry, refuse a different key. Pinned fingerprints
        // (remote targets; comma-separated, one per host key type) must hold the offered one.
        let PublicKeyOrCertificate::PublicKey { key: offered, .. } = key else {
            return Ok(self.known_host_key.is_none() && self.host_key_pin.is_none());
        };
        if let Some(pin) = &self.host_key_pin {
            let fp = offered.fingerprint(HashAlg::Sha256).to_string();
            if !pin.split(',').any(|p| p == fp) {
                self.seen.lock().expect("lock").host_key_changed = Some(format!(
                    "host key changed (REMOTE HOST IDENTIFICATION HAS CHANGED): the server offers {fp}, pinned {pin}"
                ));
                return Ok(false);
            }
        }
        let Some(known) = &self.known_host_key else {
            return Ok(true);
        };
        if offered.key_data() == known.key_data() {
            return Ok(true);
        }
        let fp = |k: &russh::keys::ssh_key::PublicKey| k.fingerprint(HashAlg::Sha256).to_string();
        self.seen.lock().expect("lock").host_key_changed = Some(format!(
            "host key changed (REMOTE HOST IDENTIFICATION HAS CHANGED): the server offers {} {}, the client knows {}",
            offered.algorithm().as_str(),
            fp(offered),
            fp(known)
        ));
        Ok(false)
    }

    async fn server_channel_open_agent_forward(
        &mut self,
        channel: russh::Channel<client::Msg>,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        // A program on the jump host uses the forwarded agent: bridge the channel to the
        // client's real agent, as ssh -A does.
        let Some(sock) = self.agent.clone() else {
            return Ok(()); // dropping `reply` rejects the channel
        };
        reply.accept().await;
        self.seen.lock().expect("lock").agent_used += 1;
        tokio::spawn(async move {
            if let Ok(mut agent) = tokio::net::UnixStream::connect(&sock).await {
                let mut ch = channel.into_stream();
                let _ = tokio::io::copy_bidirectional(&mut ch, &mut agent).await;
            }
        });
        Ok(())
    }

    async fn kex_done(
        &mut self,
        _shared_secret: Option<&[u8]>,
        names: &russh::Names,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        self.seen.lock().expect("lock").names = Some((
            names.kex.as_ref().to_string(),
            names.key.as_str().to_string(),
            names.cipher.as_ref().to_string(),
            names.client_mac.as_ref().to_string(),
        ));
        Ok(())
    }

    async fn disconnected(
        &mut self,
        reason: DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        let text = match &reason {
            DisconnectReason::ReceivedDisconnect(info) => {
                format!("server disconnected: {}", info.message)
            }
            DisconnectReason::Error(e) => format!("connection lost: {e}"),
        };
        self.seen.lock().expect("lock").disconnect = Some(text);
        match reason {
            DisconnectReason::ReceivedDisconnect(_) => Ok(()),
            DisconnectReason::Error(e) => Err(e),
        }
    }
}

/// What the RSA rule decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RsaChoice {
    /// Sign with this algorithm name.
    Sign(String),
    /// The client does not offer the key.
    Skip(String),
    /// The client fails locally.
    Fail(String),
}

/// Why a client leaves a loadable key out (see `AuthRules::not_offered`).
pub const NOT_OFFERED: &str =
    "its key type is not in the client's default PubkeyAcceptedAlgorithms";

/// Applies a profile's RSA rule to a server-sig-algs list (`None`: the server sent none).
pub fn choose_rsa(profile: &Profile, server_sig_algs: Option<&[String]>) -> RsaChoice {
    let rule = &profile.auth.rsa;
    let fallback = |fb: RsaFallback, why: &str| match fb {
        RsaFallback::SshRsa => RsaChoice::Sign("ssh-rsa".into()),
        RsaFallback::FirstPreferred => RsaChoice::Sign(
            rule.order
                .first()
                .cloned()
                .unwrap_or_else(|| "ssh-rsa".into()),
        ),
        RsaFallback::SkipKey => {
            RsaChoice::Skip(format!("client does not offer the RSA key: {why}"))
        }
        RsaFallback::Fail => RsaChoice::Fail(format!(
            "client found no RSA signature algorithm to use (ssh-unknown): {why}"
        )),
    };
    match rule.mode {
        RsaSignatureMode::SshRsaOnly => RsaChoice::Sign("ssh-rsa".into()),
        RsaSignatureMode::ServerSigAlgs => match server_sig_algs {
            None => fallback(
                rule.no_server_sig_algs,
                "the server sent no server-sig-algs",
            ),
            Some(list) => match rule.order.iter().find(|a| list.contains(a)) {
                Some(a) => RsaChoice::Sign(a.clone()),
                None => fallback(
                    rule.no_match,
                    &format!("server-sig-algs lists none of {}", rule.order.join(",")),
                ),
            },
        },
    }
}

fn hash_of(alg: &str) -> Option<HashAlg> {
    match alg {
        "rsa-sha2-256" => Some(HashAlg::Sha256),
        "rsa-sha2-512" => Some(HashAlg::Sha512),
        _ => None,
    }
}

/// Reads the server's server-sig-algs as far as russh exposes it: russh reports only the best
/// RSA entry, so the list is rebuilt from it. A server listing rsa-sha2-512 is taken to list
/// rsa-sha2-256 and ssh-rsa too, and one listing rsa-sha2-256 to list ssh-rsa — as every OpenSSH
/// release >= 7.5 and Dropbear do.
async fn server_sig_algs(handle: &client::Handle<Recorder>) -> Option<Vec<String>> {
    let best = handle.best_supported_rsa_hash().await.ok()??;
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
    Some(match best {
        Some(HashAlg::Sha512) => v(&["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]),
        Some(HashAlg::Sha256) => v(&["rsa-sha2-256", "ssh-rsa"]),
        _ => v(&["ssh-rsa"]),
    })
}

/// One emulated login attempt.
pub struct Attempt<'a> {
    /// The client profile.
    pub profile: &'a Profile,
    /// The server's identification and KEXINIT (from [`negotiate::probe`]).
    pub server: &'a ServerHello,
    /// The user key, already loaded the way the client loads it (`None`: the client holds
    /// a password instead).
    pub key: Option<Arc<PrivateKey>>,
    /// The login name.
    pub user: &'a str,
    /// Inactivity limit for the session.
    pub timeout: Duration,
    /// The host key the client already knows (known_hosts), if any.
    pub known_host_key: Option<russh::keys::ssh_key::PublicKey>,
    /// A pinned SHA256 host key fingerprint (`SHA256:…`) the server must present.
    pub host_key_pin: Option<String>,
    /// Keys the client offers before its own (e.g. an agent holding many keys).
    pub other_keys_first: Vec<Arc<PrivateKey>>,
    /// Log in with this password instead of the key.
    pub password: Option<String>,
    /// The key is held by the agent listening here (a real ssh-agent): the client asks it for
    /// the signature (with the SHA-2 flags when its profile says so) and bridges forwarded
    /// agent channels to it.
    pub agent: Option<PathBuf>,
}

/// A logged-in emulated session, for what comes after authentication (jump hosts).
pub struct Session {
    handle: client::Handle<Recorder>,
    seen: Arc<Mutex<Seen>>,
}

/// What running a command on a jump host with the agent forwarded gave.
#[derive(Debug, Clone, Default)]
pub struct Forwarded {
    /// Whether the server accepted the agent forwarding request.
    pub forwarding_accepted: bool,
    /// How many agent channels the server opened back to the client.
    pub agent_channels: usize,
    /// The command's exit status (`None`: none reported).
    pub exit_status: Option<u32>,
    /// Its output (stdout and stderr).
    pub output: String,
}

impl Session {
    /// Opens a direct-tcpip channel (ProxyJump / `ssh -W`) from the server to
    /// `127.0.0.1:port` and returns it as a stream for the next hop.
    pub async fn tunnel(&self, port: u16) -> Result<russh::ChannelStream<client::Msg>, String> {
        let ch = self
            .handle
            .channel_open_direct_tcpip("127.0.0.1", port as u32, "127.0.0.1", 0)
            .await
            .map_err(|e| format!("the jump host refused to open a channel to the next hop: {e}"))?;
        Ok(ch.into_stream())
    }

    /// Requests agent forwarding on a session channel and runs `command` there (`ssh -A host
    /// command`).
    pub async fn forward_agent_and_exec(&self, command: &str) -> Result<Forwarded, String> {
        let ch = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| e.to_string())?;
        ch.agent_forward(true).await.map_err(|e| e.to_string())?;
        let mut ch = ch;
        let mut out = Forwarded::default();
        // The reply to the forwarding request comes first.
        while let Some(msg) = ch.wait().await {
            match msg {
                russh::ChannelMsg::Success => {
                    out.forwarding_accepted = true;
                    break;
                }
                russh::ChannelMsg::Failure => break,
                _ => {}
            }
        }
        ch.exec(true, command).await.map_err(|e| e.to_string())?;
        ch.eof().await.map_err(|e| e.to_string())?;
        let mut output = Vec::new();
        while let Some(msg) = ch.wait().await {
            match msg {
                russh::ChannelMsg::Data { data } | russh::ChannelMsg::ExtendedData { data, .. } => {
                    output.extend_from_slice(&data)
                }
                russh::ChannelMsg::ExitStatus { exit_status } => {
                    out.exit_status = Some(exit_status)
                }
                _ => {}
            }
        }
        out.output = String::from_utf8_lossy(&output).to_string();
        out.agent_channels = self.seen.lock().expect("lock").agent_used;
        Ok(out)
    }

    /// Ends the session.
    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// Runs an attempt over `stream` (already connected to the target).
pub async fn attempt<S>(a: Attempt<'_>, stream: S) -> ClientOutcome
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (out, session) = login(a, stream).await;
    if let Some(s) = session {
        s.close().await;
    }
    out
}

/// Runs an attempt over `stream` and, when it logged in, keeps the session open.
pub async fn login<S>(a: Attempt<'_>, stream: S) -> (ClientOutcome, Option<Session>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let predicted = negotiate::negotiate(&a.profile.kexinit, a.server);
    if let Ok(n) = &predicted {
        let missing = unsupported(n);
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|(c, n)| format!("{c} {n}")).collect();
            let mut o = ClientOutcome::new(
                Verdict::Error,
                Stage::Emulation,
                format!(
                    "emulation limit: {} would negotiate {}, which the engine cannot speak",
                    a.profile.display_name(),
                    list.join(", ")
                ),
            );
            o.negotiated = Some(n.clone());
            return (o, None);
        }
    }

    let seen = Arc::new(Mutex::new(Seen::default()));
    let config = client::Config {
        client_id: SshId::Standard(Cow::Owned(a.profile.ident.clone())),
        preferred: preferred(a.profile),
        inactivity_timeout: Some(a.timeout),
        ..Default::default()
    };
    let recorder = Recorder {
        seen: seen.clone(),
        known_host_key: a.known_host_key.clone(),
        host_key_pin: a.host_key_pin.clone(),
        agent: a.agent.clone(),
    };
    let mut handle = match client::connect_stream(Arc::new(config), stream, recorder).await {
        Ok(h) => h,
        Err(e) => return (connect_error(e, &predicted, &seen), None),
    };
    let mut out = ClientOutcome::new(Verdict::Fail, Stage::Auth, "");
    out.negotiated = predicted.clone().ok();
    if let Some((k, h, c, m)) = seen.lock().expect("lock").names.clone() {
        if let Ok(n) = &predicted {
            if n.kex != k || n.hostkey != h || n.cipher != c {
                out.notes.push(format!(
                    "engine negotiated {k}/{h}/{c}/{m}, prediction was {}/{}/{}",
                    n.kex, n.hostkey, n.cipher
                ));
            }
        }
    }
    if a.profile.auth.flow == crate::profile::AuthFlow::SignFirst {
        out.notes.push(
            "the real client signs straight away; the engine queries first (same server checks)"
                .into(),
        );
    }

    let result = authenticate(&a, &mut handle, &mut out, &seen).await;
    if let Err(e) = result {
        let _ = handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
        drop(handle);
        out.verdict = Verdict::Error;
        out.reason = match seen.lock().expect("lock").disconnect.clone() {
            Some(d) => format!("{e}; {d}"),
            None => e.to_string(),
        };
        return (out, None);
    }
    (out, Some(Session { handle, seen }))
}

async fn authenticate(
    a: &Attempt<'_>,
    handle: &mut client::Handle<Recorder>,
    out: &mut ClientOutcome,
    seen: &Arc<Mutex<Seen>>,
) -> Result<(), russh::Error> {
    match handle.authenticate_none(a.user).await? {
        AuthResult::Success => {
            out.verdict = Verdict::Ok;
            out.stage = Stage::Login;
            out.reason = "logged in without authentication (none method accepted)".into();
            return Ok(());
        }
        AuthResult::Failure {
            remaining_methods, ..
        } => {
            out.methods = remaining_methods.iter().map(method_name).collect();
        }
    }
    if let Some(pw) = &a.password {
        return password(a, handle, out, pw).await;
    }
    if !offer_others_first(a, handle, out, seen).await {
        return Ok(());
    }
    if !out.methods.iter().any(|m| m == "publickey") {
        out.reason = format!(
            "server does not offer publickey authentication (offers: {})",
            out.methods.join(",")
        );
        out.code = Some(Code::AuthMethodDisabled);
        return Ok(());
    }
    let Some(key) = a.key.clone() else {
        out.reason = "the client holds no key (and no password was given)".into();
        return Ok(());
    };
    let Some(signature) = signature(a, &key, handle, out).await else {
        return Ok(());
    };
    out.signature = Some(signature.clone());
    let Some(result) = sign(a, key, handle, out, &signature).await? else {
        return Ok(());
    };
    publickey_result(a, out, result, &signature, seen);
    Ok(())
}

/// Password authentication (the method offered or not; the password refused or not).
async fn password(
    a: &Attempt<'_>,
    handle: &mut client::Handle<Recorder>,
    out: &mut ClientOutcome,
    pw: &str,
) -> Result<(), russh::Error> {
    if !out.methods.iter().any(|m| m == "password") {
        out.reason = format!(
            "server does not offer password authentication (offers: {})",
            out.methods.join(",")
        );
        out.code = Some(Code::AuthMethodDisabled);
        return Ok(());
    }
    out.signature = Some("password".into());
    match handle.authenticate_password(a.user, pw).await? {
        AuthResult::Success => {
            out.verdict = Verdict::Ok;
            out.stage = Stage::Login;
            out.reason = "logged in with a password".into();
        }
        AuthResult::Failure { .. } => {
            out.reason = "server refused the password".into();
            out.code = Some(Code::AuthPasswordRejected);
        }
    }
    Ok(())
}

/// Offers the scenario's other keys first (MaxAuthTries); false when the server gave up.
async fn offer_others_first(
    a: &Attempt<'_>,
    handle: &mut client::Handle<Recorder>,
    out: &mut ClientOutcome,
    seen: &Arc<Mutex<Seen>>,
) -> bool {
    for (i, other) in a.other_keys_first.iter().enumerate() {
        let hash = (key_family(other) == "rsa").then_some(HashAlg::Sha512);
        let offered = PrivateKeyWithHashAlg::new(other.clone(), hash);
        match handle.authenticate_publickey(a.user, offered).await {
            Ok(AuthResult::Success) => {}
            Ok(AuthResult::Failure {
                remaining_methods, ..
            }) if !remaining_methods.is_empty() => continue,
            _ => {
                let why = seen.lock().expect("lock").disconnect.clone();
                out.reason = format!(
                    "the client offered {} other keys first; {}",
                    i + 1,
                    why.unwrap_or_else(|| "the server closed the connection".into())
                );
                return false;
            }
        }
    }
    true
}

/// The signature algorithm the client signs with, or None (with the reason in `out`) when it
/// does not offer the key at all.
async fn signature(
    a: &Attempt<'_>,
    key: &PrivateKey,
    handle: &mut client::Handle<Recorder>,
    out: &mut ClientOutcome,
) -> Option<String> {
    let family = key_family(key);
    if !a.profile.auth.key_families.iter().any(|f| f == family) {
        out.stage = Stage::KeyLoad;
        out.reason = format!("{} cannot use {family} keys", a.profile.display_name());
        return None;
    }
    if a.profile.auth.not_offered.iter().any(|f| f == family) {
        out.reason = format!("client does not offer the {family} key: {NOT_OFFERED}");
        out.code = Some(Code::AuthNoSignatureAlgorithm);
        return None;
    }
    if family != "rsa" {
        return Some(key.algorithm().as_str().to_string());
    }
    let bits = rsa_bits(key);
    if let Some(min) = a.profile.min_rsa_bits.filter(|m| bits < *m) {
        out.reason =
            format!("client refuses its {bits}-bit RSA key (client RequiredRSASize {min})");
        return None;
    }
    let list = match a.profile.sends_ext_info() {
        true => server_sig_algs(handle).await,
        false => None,
    };
    match choose_rsa(a.profile, list.as_deref()) {
        // An agent asked for no SHA-2 flag signs with SHA-1.
        RsaChoice::Sign(_) if a.agent.is_some() && !a.profile.auth.agent_rsa_sha2 => {
            Some("ssh-rsa".to_string())
        }
        RsaChoice::Sign(alg) => Some(alg),
        RsaChoice::Skip(why) | RsaChoice::Fail(why) => {
            out.reason = why;
            out.code = Some(Code::AuthNoSignatureAlgorithm);
            None
        }
    }
}

/// Signs with the key file or through the agent and sends the request; None (with the reason
/// in `out`) when the agent could not sign.
async fn sign(
    a: &Attempt<'_>,
    key: Arc<PrivateKey>,
    handle: &mut client::Handle<Recorder>,
    out: &mut ClientOutcome,
    signature: &str,
) -> Result<Option<AuthResult>, russh::Error> {
    let Some(sock) = &a.agent else {
        let key = PrivateKeyWithHashAlg::new(key, hash_of(signature));
        return Ok(Some(handle.authenticate_publickey(a.user, key).await?));
    };
    let signed = match russh::keys::agent::client::AgentClient::connect_uds(sock).await {
        Ok(mut agent) => handle
            .authenticate_publickey_with(
                a.user,
                key.public_key().clone(),
                hash_of(signature),
                &mut agent,
            )
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!("cannot reach the agent: {e}")),
    };
    match signed {
        Ok(r) => Ok(Some(r)),
        Err(e) => {
            out.verdict = Verdict::Error;
            out.reason = format!("agent signing failed: {e}");
            Ok(None)
        }
    }
}

/// Records what the server answered to the signed publickey request.
fn publickey_result(
    a: &Attempt<'_>,
    out: &mut ClientOutcome,
    result: AuthResult,
    signature: &str,
    seen: &Arc<Mutex<Seen>>,
) {
    let via_agent = match a.agent {
        Some(_) => " (signed by the agent)",
        None => "",
    };
    match result {
        AuthResult::Success => {
            out.verdict = Verdict::Ok;
            out.stage = Stage::Login;
            out.reason = format!("logged in with {signature}{via_agent}");
        }
        AuthResult::Failure {
            remaining_methods, ..
        } => {
            let left: Vec<String> = remaining_methods.iter().map(method_name).collect();
            let disconnect = seen.lock().expect("lock").disconnect.clone();
            if let Some(d) = disconnect.as_deref().filter(|d| d.contains("SshEncoding")) {
                // The engine could not read the server's answer: what the real client does
                // is beyond emulation (TinySSH 20190101's PK_OK carries bytes russh refuses).
                out.verdict = Verdict::Error;
                out.stage = Stage::Emulation;
                out.reason = format!(
                    "emulation limit: the engine cannot read the server's answer to publickey with {signature} ({d})"
                );
                return;
            }
            out.reason = if left.is_empty() {
                match disconnect {
                    Some(d) => format!("publickey with {signature}{via_agent} refused; {d}"),
                    None => "server closed the session during publickey authentication".into(),
                }
            } else {
                format!(
                    "server refused publickey with {signature}{via_agent} (USERAUTH_FAILURE, can continue: {})",
                    left.join(",")
                )
            };
        }
    }
}

fn connect_error(
    e: russh::Error,
    predicted: &Result<Negotiated, negotiate::NoCommon>,
    seen: &Arc<Mutex<Seen>>,
) -> ClientOutcome {
    match e {
        russh::Error::NoCommonAlgo { kind, theirs, .. } => {
            let stage = match kind {
                AlgorithmKind::Kex => Stage::Kex,
                AlgorithmKind::Key => Stage::Hostkey,
                AlgorithmKind::Cipher => Stage::Cipher,
                AlgorithmKind::Mac => Stage::Mac,
                AlgorithmKind::Compression => Stage::Compression,
            };
            let theirs: Vec<String> = theirs
                .into_iter()
                .filter(|n| !negotiate::is_marker(n))
                .collect();
            let mut o = ClientOutcome::new(
                Verdict::Fail,
                stage,
                format!(
                    "no matching {stage} algorithm (server offers: {})",
                    theirs.join(",")
                ),
            );
            if let Err(p) = predicted {
                if stage_of(p.category) != stage {
                    o.notes
                        .push(format!("prediction failed at {} instead", p.category));
                }
            }
            o
        }
        other => {
            if let Some(changed) = seen.lock().expect("lock").host_key_changed.clone() {
                return ClientOutcome::new(Verdict::Fail, Stage::Hostkey, changed)
                    .with_code(Code::HostkeyChanged);
            }
            let detail = seen.lock().expect("lock").disconnect.clone();
            let reason = match detail {
                Some(d) => format!("{other}; {d}"),
                None => other.to_string(),
            };
            let (stage, reason) = match other {
                russh::Error::InactivityTimeout => (Stage::Timeout, format!("no answer: {reason}")),
                russh::Error::IO(_) | russh::Error::Disconnect => (Stage::Connect, reason),
                _ => (Stage::Connect, format!("protocol error: {reason}")),
            };
            ClientOutcome::new(Verdict::Error, stage, reason)
        }
    }
}

fn method_name(m: &MethodKind) -> String {
    let s: &str = m.into();
    s.to_string()
}

/// The family (`rsa`, `ecdsa`, `ed25519`, `dsa`) of a loaded key.
pub fn key_family(key: &PrivateKey) -> &'static str {
    match key.algorithm() {
        Algorithm::Rsa { .. } => "rsa",
        Algorithm::Ecdsa { .. } => "ecdsa",
        Algorithm::Ed25519 => "ed25519",
        Algorithm::Dsa => "dsa",
        _ => "other",
    }
}

fn rsa_bits(key: &PrivateKey) -> u32 {
    key.public_key()
        .key_data()
        .rsa()
        .map(|r| {
            let n = r.n().as_bytes();
            let lead = n.iter().take_while(|b| **b == 0).count();
            let n = &n[lead..];
            n.first()
                .map(|b| (n.len() as u32) * 8 - b.leading_zeros())
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

struct KeyCatcher(Arc<Mutex<Option<russh::keys::ssh_key::PublicKey>>>);

impl client::Handler for KeyCatcher {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        if let PublicKeyOrCertificate::PublicKey { key, .. } = key {
            *self.0.lock().expect("lock") = Some(key.clone());
        }
        Ok(true)
    }
}

/// Completes a key exchange over `stream` with the engine's defaults and returns the server's
/// host key (no authentication is attempted): the pre-flight check of a pinned host key.
pub async fn host_key<S>(stream: S) -> Result<russh::keys::ssh_key::PublicKey, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let caught = Arc::new(Mutex::new(None));
    let config = Arc::new(client::Config::default());
    let handle = client::connect_stream(config, stream, KeyCatcher(caught.clone()))
        .await
        .map_err(|e| e.to_string())?;
    let _ = handle
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    let key = caught.lock().expect("lock").take();
    key.ok_or_else(|| "the server presented no plain host key".into())
}

/// What a key exchange shows before any authentication.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The host key the server proved.
    pub host_key: russh::keys::ssh_key::PublicKey,
    /// The best RSA signature algorithm of the server's ext-info `server-sig-algs` (russh
    /// exposes no more of the list): `Some("rsa-sha2-512")`, `Some("rsa-sha2-256")`,
    /// `Some("ssh-rsa")`, or `None` when the server sent no list or one without RSA.
    pub best_rsa: Option<String>,
}

/// Completes a key exchange over `stream` with `lists` (a scanner passes the server's own,
/// narrowed to one host key algorithm) and reads the host key and the RSA part of
/// server-sig-algs; disconnects before any authentication request.
pub async fn handshake<S>(stream: S, lists: &KexLists) -> Result<Handshake, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let caught = Arc::new(Mutex::new(None));
    let mut lists = lists.clone();
    // Ask for ext-info as every modern client does, or the server sends no server-sig-algs.
    lists.kex.push("ext-info-c".into());
    let config = Arc::new(client::Config {
        preferred: preferred_lists(&lists),
        ..Default::default()
    });
    let handle = client::connect_stream(config, stream, KeyCatcher(caught.clone()))
        .await
        .map_err(|e| e.to_string())?;
    let best_rsa = match handle.best_supported_rsa_hash().await {
        Ok(Some(Some(HashAlg::Sha512))) => Some("rsa-sha2-512".to_string()),
        Ok(Some(Some(_))) => Some("rsa-sha2-256".to_string()),
        Ok(Some(None)) => Some("ssh-rsa".to_string()),
        _ => None,
    };
    let _ = handle
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    let host_key = caught.lock().expect("lock").take();
    let host_key = host_key.ok_or("the server presented no plain host key")?;
    Ok(Handshake { host_key, best_rsa })
}

/// Logs in with `key` as `user` (the server must present the host key `pin`), runs `command`
/// with `input` on its standard input, and returns its exit status and output. Used to install
/// keys on a remote target through an existing admin key.
pub async fn exec_with_key<S>(
    stream: S,
    user: &str,
    key: Arc<PrivateKey>,
    pin: &str,
    command: &str,
    input: &[u8],
) -> Result<(u32, String), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let seen = Arc::new(Mutex::new(Seen::default()));
    let recorder = Recorder {
        seen: seen.clone(),
        known_host_key: None,
        host_key_pin: Some(pin.to_string()),
        agent: None,
    };
    let mut handle = client::connect_stream(Arc::new(client::Config::default()), stream, recorder)
        .await
        .map_err(
            |e| match seen.lock().expect("lock").host_key_changed.clone() {
                Some(changed) => changed,
                None => e.to_string(),
            },
        )?;
    let hash = (key_family(&key) == "rsa").then_some(HashAlg::Sha512);
    match handle
        .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash))
        .await
        .map_err(|e| e.to_string())?
    {
        AuthResult::Success => {}
        AuthResult::Failure { .. } => return Err(format!("the admin key is refused for {user}")),
    }
    let mut ch = handle
        .channel_open_session()
        .await
        .map_err(|e| e.to_string())?;
    ch.exec(true, command).await.map_err(|e| e.to_string())?;
    ch.data(input).await.map_err(|e| e.to_string())?;
    ch.eof().await.map_err(|e| e.to_string())?;
    let (mut status, mut output) = (u32::MAX, Vec::new());
    while let Some(msg) = ch.wait().await {
        match msg {
            russh::ChannelMsg::Data { data } | russh::ChannelMsg::ExtendedData { data, .. } => {
                output.extend_from_slice(&data)
            }
            russh::ChannelMsg::ExitStatus { exit_status } => status = exit_status,
            _ => {}
        }
    }
    let _ = handle
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    Ok((status, String::from_utf8_lossy(&output).to_string()))
}
