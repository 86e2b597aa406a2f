//! Key exchanges without a login: the host key pre-flight, a scanner's handshake, and the
//! admin-key login that installs keys on a remote target.

use std::sync::{Arc, Mutex};

use russh::client::{self, AuthResult};
use russh::keys::ssh_key::{HashAlg, PrivateKey};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::profile::KexLists;

use super::recorder::{Recorder, Seen};
use super::{key_family, preferred_lists};

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
