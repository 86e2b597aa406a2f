//! Presenting an OpenSSH user certificate: the certificate goes in the publickey request under
//! its certificate algorithm (for RSA the one of the hash the client chose, as
//! `rsa-sha2-512-cert-v01@openssh.com`), and the key file's private key signs.

use std::sync::Arc;

use russh::keys::agent::AgentIdentity;
use russh::keys::signature::Signer as _;
use russh::keys::ssh_encoding::Encode;
use russh::keys::ssh_key::private::KeypairData;
use russh::keys::ssh_key::{Certificate, HashAlg, PrivateKey, Signature};
use russh::AgentAuthError;

/// Signs certificate requests with the certified key itself (held in a file, not an agent).
pub(super) struct KeySigner(pub(super) Arc<PrivateKey>);

impl russh::Signer for KeySigner {
    type Error = AgentAuthError;

    #[allow(clippy::manual_async_fn)]
    fn auth_sign(
        &mut self,
        _identity: &AgentIdentity,
        hash_alg: Option<HashAlg>,
        mut to_sign: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<Vec<u8>, Self::Error>> + Send {
        let key = self.0.clone();
        async move {
            let blob =
                signature_blob(&key, hash_alg, &to_sign).map_err(russh::keys::Error::from)?;
            blob.as_slice()
                .encode(&mut to_sign)
                .map_err(russh::keys::Error::from)?;
            Ok(to_sign)
        }
    }
}

/// The signature of `data` by `key` as SSH encodes it (algorithm name and signature), RSA
/// with `hash`.
fn signature_blob(
    key: &PrivateKey,
    hash: Option<HashAlg>,
    data: &[u8],
) -> Result<Vec<u8>, russh::keys::ssh_key::Error> {
    let signature: Signature = match key.key_data() {
        KeypairData::Rsa(rsa) => (rsa, hash).try_sign(data)?,
        _ => key.try_sign(data)?,
    };
    Ok(signature.encode_vec()?)
}

/// Reads an OpenSSH certificate file (`KEY-cert.pub`).
pub fn read(path: &std::path::Path) -> Result<Certificate, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Certificate::from_openssh(text.trim()).map_err(|e| format!("{}: {e}", path.display()))
}
