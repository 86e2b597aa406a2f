//! What the engine's client handler sees of a server: the algorithms negotiated, a
//! disconnect, a changed host key, forwarded agent channels.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use russh::client::{self, DisconnectReason};
use russh::keys::ssh_key::HashAlg;
use russh::keys::PublicKeyOrCertificate;

/// What the handler saw of one connection.
#[derive(Default)]
pub(super) struct Seen {
    /// The negotiated kex, host key, cipher and MAC names.
    pub(super) names: Option<(String, String, String, String)>,
    /// The server's disconnect message.
    pub(super) disconnect: Option<String>,
    /// Why the host key is not the one known, when it is not.
    pub(super) host_key_changed: Option<String>,
    /// Forwarded agent channels the server opened.
    pub(super) agent_used: usize,
}

/// The engine's client handler for one emulated login.
pub(super) struct Recorder {
    pub(super) seen: Arc<Mutex<Seen>>,
    /// The host key the cell expects (a pinned or known one), if any.
    pub(super) known_host_key: Option<russh::keys::ssh_key::PublicKey>,
    /// The pinned host key's fingerprint, if any.
    pub(super) host_key_pin: Option<String>,
    /// The agent socket that forwarded agent channels are bridged to.
    pub(super) agent: Option<PathBuf>,
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

/// Reads the server's server-sig-algs as far as russh exposes it: russh reports only the best
/// RSA entry, so the list is rebuilt from it. A server listing rsa-sha2-512 is taken to list
/// rsa-sha2-256 and ssh-rsa too, and one listing rsa-sha2-256 to list ssh-rsa — as every OpenSSH
/// release >= 7.5 and Dropbear do.
pub(super) async fn server_sig_algs(handle: &client::Handle<Recorder>) -> Option<Vec<String>> {
    let best = handle.best_supported_rsa_hash().await.ok()??;
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
    Some(match best {
        Some(HashAlg::Sha512) => v(&["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]),
        Some(HashAlg::Sha256) => v(&["rsa-sha2-256", "ssh-rsa"]),
        _ => v(&["ssh-rsa"]),
    })
}
