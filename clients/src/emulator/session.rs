//! One emulated login: connect as the profile says, authenticate, and classify what
//! happened into a verdict, a stage and the client-side reason.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, AuthResult};
use russh::keys::ssh_key::{HashAlg, PrivateKey};
use russh::keys::PrivateKeyWithHashAlg;
use russh::{AlgorithmKind, MethodKind, SshId};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::negotiate::{self, Negotiated, ServerHello};
use crate::profile::Profile;

use super::recorder::{server_sig_algs, Recorder, Seen};
use super::rsa::{hash_of, rsa_bits};
use super::{choose_rsa, key_family, preferred, rsa_turns, unsupported, RsaChoice, NOT_OFFERED};
use super::{stage_of, ClientOutcome, Code, Stage, Verdict};

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
    /// The OpenSSH certificate the client presents with its key (a key file's).
    pub certificate: Option<russh::keys::Certificate>,
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
    let Some(first) = signature(a, &key, handle, out).await else {
        return Ok(());
    };
    // A client that tries its RSA algorithms in turn goes on while the server lets it.
    let turns = match a.certificate.is_none() && key_family(&key) == "rsa" {
        true => rsa_turns(a.profile, &first),
        false => &[],
    };
    let mut refused = Vec::new();
    for signature in std::iter::once(&first).chain(turns) {
        out.signature = Some(signature.clone());
        let Some(result) = sign(a, key.clone(), handle, out, signature).await? else {
            return Ok(());
        };
        let again = matches!(&result, AuthResult::Failure { remaining_methods, .. }
            if remaining_methods.iter().any(|m| method_name(m) == "publickey"));
        publickey_result(a, out, result, signature, seen);
        if out.verdict == Verdict::Ok || !again {
            break;
        }
        refused.push(signature.clone());
    }
    if !refused.is_empty() {
        out.notes.push(format!(
            "{} tried its RSA signature algorithms in turn on one connection; refused: {}",
            a.profile.display_name(),
            refused.join(", ")
        ));
    }
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
    // A rule keyed on the server's identification overrides server-sig-algs (paramiko 2.9–3.x).
    if a.certificate.is_some() && a.profile.auth.rsa_cert_forced_ssh_rsa(&a.server.ident) {
        return Some("ssh-rsa".to_string());
    }
    let list = match a.profile.sends_ext_info() {
        true => server_sig_algs(handle).await,
        false => None,
    };
    let list = a.profile.auth.believed_sig_algs(&a.server.ident, list);
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
    if let (Some(cert), None) = (&a.certificate, &a.agent) {
        let mut signer = super::certificate::KeySigner(key);
        let hash = hash_of(signature);
        let result = handle
            .authenticate_certificate_with(a.user, cert.clone(), hash, &mut signer)
            .await;
        return match result {
            Ok(r) => Ok(Some(r)),
            Err(russh::AgentAuthError::Send(_)) => Err(russh::Error::SendError),
            Err(russh::AgentAuthError::Key(e)) => Err(russh::Error::from(e)),
        };
    }
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
