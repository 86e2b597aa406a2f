//! The recording server for one connection: russh as the server, its `server-sig-algs` (which
//! russh takes from its preferred key algorithms) set by the step, a tap on the stream that keeps
//! the client's first bytes (identification and KEXINIT) and counts what arrives, and a handler
//! that notes every authentication request.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use russh::keys::ssh_key::{Algorithm, EcdsaCurve, LineEnding, PrivateKey};
use russh::server::{Auth, Config, Handler, PublicKeyOffer, VerifiedPublicKey};
use russh::{MethodKind, MethodSet, Preferred};
use sshmatrix_clients::KeySpec;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Connection, KeyAttempt, Step};

/// The recorder's throwaway host keys: Ed25519, ECDSA P-256 and RSA 2048.
pub struct HostKeys(Vec<PrivateKey>);

impl HostKeys {
    /// Fresh host keys.
    pub fn generate() -> Result<HostKeys, String> {
        [KeySpec::Ed25519, KeySpec::Ecdsa(256), KeySpec::Rsa(2048)]
            .into_iter()
            .map(|spec| {
                let pkey = sshmatrix_clients::factory::generate(spec).map_err(|e| e.to_string())?;
                sshmatrix_clients::material::to_ssh_key(&pkey, "sshmatrix-record")
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()
            .map(HostKeys)
    }

    /// The keys' SHA256 fingerprints, as clients show them when asked to trust a host key.
    pub fn fingerprints(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|k| {
                let fp = k
                    .public_key()
                    .fingerprint(russh::keys::ssh_key::HashAlg::Sha256);
                format!("{} {fp}", k.algorithm().as_str())
            })
            .collect()
    }

    /// Writes the keys into `dir` (0600 private files, `.pub` beside them) and returns the
    /// public files (plink pins them).
    pub fn save(&self, dir: &Path) -> Result<Vec<PathBuf>, String> {
        let mut pubs = Vec::new();
        for (i, k) in self.0.iter().enumerate() {
            let path = dir.join(format!("host_key_{i}"));
            let text = k.to_openssh(LineEnding::LF).map_err(|e| e.to_string())?;
            sshmatrix_clients::factory::write_private(&path, text.as_bytes())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let public = k.public_key().to_openssh().map_err(|e| e.to_string())?;
            let pub_path = path.with_extension("pub");
            std::fs::write(&pub_path, format!("{public}\n")).map_err(|e| e.to_string())?;
            pubs.push(pub_path);
        }
        Ok(pubs)
    }

    /// Reads the keys [`HostKeys::save`] wrote.
    pub fn load(dir: &Path) -> Result<HostKeys, String> {
        (0..3)
            .map(|i| {
                let path = dir.join(format!("host_key_{i}"));
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                PrivateKey::from_openssh(&text).map_err(|e| format!("{}: {e}", path.display()))
            })
            .collect::<Result<_, _>>()
            .map(HostKeys)
    }
}

/// What the handler and the tap share.
#[derive(Default)]
struct Seen {
    /// Bytes received so far.
    bytes_in: AtomicU64,
    /// The client's first bytes (up to [`FIRST_BYTES`]).
    first: Mutex<Vec<u8>>,
    /// Whether the client asked for the user-authentication service (its key exchange is
    /// done).
    userauth: std::sync::atomic::AtomicBool,
    /// Methods tried, in order.
    methods: Mutex<Vec<String>>,
    /// Public key attempts with the byte count when each was offered and the key's blob.
    keys: Mutex<Vec<(KeyAttempt, u64, Vec<u8>)>>,
}

/// Enough for any identification string and KEXINIT.
const FIRST_BYTES: usize = 64 * 1024;

/// A stream that copies the client's first bytes and counts all of them.
struct Tap<S> {
    inner: S,
    seen: Arc<Seen>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let new = &buf.filled()[before..];
        if !new.is_empty() {
            self.seen
                .bytes_in
                .fetch_add(new.len() as u64, Ordering::SeqCst);
            let mut first = self.seen.first.lock().expect("tap");
            let room = FIRST_BYTES.saturating_sub(first.len());
            first.extend_from_slice(&new[..new.len().min(room)]);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The russh handler: notes each request; PK_OK for every query, failure for everything else.
struct Recorder {
    seen: Arc<Seen>,
    step: Step,
    /// Where the record is written after every request, so it is on disk before the client
    /// has its answer (OpenSSH kills its proxy command the moment it gives up).
    snapshot: Option<PathBuf>,
}

fn family_of(algorithm: &Algorithm) -> String {
    match algorithm {
        Algorithm::Rsa { .. } => "rsa".into(),
        Algorithm::Ecdsa { .. } => "ecdsa".into(),
        Algorithm::Ed25519 => "ed25519".into(),
        Algorithm::Dsa => "dsa".into(),
        other => other.as_str().to_string(),
    }
}

fn only_publickey() -> Auth {
    Auth::Reject {
        proceed_with_methods: Some(MethodSet::from(&[MethodKind::PublicKey][..])),
        partial_success: false,
    }
}

impl Recorder {
    fn method(&self, name: &str) {
        self.seen.methods.lock().expect("seen").push(name.into());
        self.save();
    }

    fn save(&self) {
        if let Some(path) = &self.snapshot {
            save(path, &finish(self.step, &self.seen, None));
        }
    }
}

/// Writes a connection's record atomically (a temporary file renamed over `path`).
pub fn save(path: &Path, conn: &Connection) {
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, serde_json::to_string(conn).expect("json")).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

impl Handler for Recorder {
    type Error = russh::Error;

    async fn authentication_banner(&mut self) -> Result<Option<String>, Self::Error> {
        self.seen.userauth.store(true, Ordering::SeqCst);
        self.save();
        Ok(None)
    }

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        self.method("none");
        Ok(only_publickey())
    }

    async fn auth_password(&mut self, _user: &str, _password: &str) -> Result<Auth, Self::Error> {
        self.method("password");
        Ok(only_publickey())
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        _user: &str,
        _submethods: &str,
        _response: Option<russh::server::Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        self.method("keyboard-interactive");
        Ok(only_publickey())
    }

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        self.method("publickey");
        let attempt = KeyAttempt {
            family: family_of(&offer.public_key.algorithm()),
            algorithm: offer.algorithm.as_str().to_string(),
            queried: false,
            signed: false,
        };
        let at = self.seen.bytes_in.load(Ordering::SeqCst);
        let blob = offer.public_key.to_bytes().unwrap_or_default();
        self.seen
            .keys
            .lock()
            .expect("seen")
            .push((attempt, at, blob));
        self.save();
        Ok(Auth::Accept)
    }

    async fn auth_publickey(
        &mut self,
        _user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let now = self.seen.bytes_in.load(Ordering::SeqCst);
        let blob = key.public_key.to_bytes().unwrap_or_default();
        let algorithm = key.algorithm.as_str();
        let mut keys = self.seen.keys.lock().expect("seen");
        // A query was answered with PK_OK and the signed request came in later bytes; a
        // client that signs first has its offer and signature in one packet.
        if let Some((a, at, _)) = keys
            .iter_mut()
            .rev()
            .find(|(a, _, b)| !a.signed && a.algorithm == algorithm && *b == blob)
        {
            a.signed = true;
            a.queried = *at != now;
        }
        drop(keys);
        self.save();
        Ok(Auth::reject())
    }
}

/// The server's configuration for a step: every algorithm russh has, the three host keys, and
/// a key-algorithm list (hence `server-sig-algs`) whose RSA part is the step's offer.
fn config(step: Step, keys: &HostKeys, timeout: Duration) -> Config {
    let mut key: Vec<Algorithm> = vec![
        Algorithm::Ed25519,
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP256,
        },
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP384,
        },
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP521,
        },
        Algorithm::SkEd25519,
        Algorithm::SkEcdsaSha2NistP256,
        Algorithm::Dsa,
    ];
    key.extend(step.offer.rsa().iter().filter_map(|a| a.parse().ok()));
    let kex = russh::kex::ALL_KEX_ALGORITHMS
        .iter()
        .map(|n| **n)
        .filter(|n| n.as_ref() != "none")
        .chain([russh::kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER])
        .collect::<Vec<_>>();
    let cipher = russh::cipher::ALL_CIPHERS
        .iter()
        .map(|n| **n)
        .filter(|n| !matches!(n.as_ref(), "none" | "clear"))
        .collect::<Vec<_>>();
    let mac = russh::mac::ALL_MAC_ALGORITHMS
        .iter()
        .map(|n| **n)
        .filter(|n| n.as_ref() != "none")
        .collect::<Vec<_>>();
    Config {
        server_id: russh::SshId::Standard("SSH-2.0-OpenSSH_9.9 sshmatrix-record".into()),
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::ZERO,
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: keys.0.clone(),
        preferred: Preferred {
            kex: Cow::Owned(kex),
            key: Cow::Owned(key),
            cipher: Cow::Owned(cipher),
            mac: Cow::Owned(mac),
            ..Default::default()
        },
        max_auth_attempts: 64,
        inactivity_timeout: Some(timeout),
        ..Default::default()
    }
}

/// Serves one connection on `stream` as `step` says and returns what the client did. The
/// connection ends when the client gives up (every login fails), errs, or is silent for
/// `timeout`. With `snapshot`, the record is also kept written there as it grows.
pub async fn record_connection<S>(
    stream: S,
    step: Step,
    keys: &HostKeys,
    timeout: Duration,
    snapshot: Option<&Path>,
) -> Connection
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let seen = Arc::new(Seen::default());
    let tap = Tap {
        inner: stream,
        seen: seen.clone(),
    };
    let handler = Recorder {
        seen: seen.clone(),
        step,
        snapshot: snapshot.map(Path::to_path_buf),
    };
    let config = Arc::new(config(step, keys, timeout));
    let ended = match russh::server::run_stream(config, tap, handler).await {
        Ok(session) => tokio::time::timeout(timeout * 2, session)
            .await
            .unwrap_or_else(|_| Err(russh::Error::InactivityTimeout)),
        Err(e) => Err(e),
    };
    finish(step, &seen, ended.err())
}

/// The connection's record from what was seen and how the session ended.
fn finish(step: Step, seen: &Seen, error: Option<russh::Error>) -> Connection {
    let first = seen.first.lock().expect("seen").clone();
    let hello = sshmatrix_clients::negotiate::parse_hello(&first);
    let keys: Vec<KeyAttempt> = seen
        .keys
        .lock()
        .expect("seen")
        .iter()
        .map(|(a, _, _)| KeyAttempt {
            // Offered and never signed: a query answered with PK_OK that the client did not
            // follow up (it could not sign, or gave up).
            queried: a.queried || !a.signed,
            ..a.clone()
        })
        .collect();
    let methods = seen.methods.lock().expect("seen").clone();
    let problem = match (&hello, ()) {
        (Err(e), _) => Some(format!("the client {e}")),
        (Ok(None), _) if first.is_empty() => {
            Some("the client connected and closed without sending anything".into())
        }
        (Ok(None), _) => {
            Some("the client closed the connection before its KEXINIT was complete".into())
        }
        (Ok(Some(_)), _) if !seen.userauth.load(Ordering::SeqCst) => Some(format!(
            "the client did not get as far as authentication{}",
            error.map(|e| format!(" ({e})")).unwrap_or_default()
        )),
        _ => None,
    };
    Connection {
        step,
        hello: hello.ok().flatten(),
        methods,
        keys,
        problem,
    }
}
