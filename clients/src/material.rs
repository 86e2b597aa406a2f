//! OpenSSL key material to ssh-key private keys (through the OpenSSH wire encoding), shared by
//! the key factory (writing keys) and the loader (reading PEM and PKCS#8 files).

use openssl::bn::BigNumRef;
use openssl::ec::PointConversionForm;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use russh::keys::ssh_encoding::Decode;
use russh::keys::ssh_key::private::{KeypairData, PrivateKey};

use crate::error::FactoryError;

fn put_string(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

fn put_mpint(out: &mut Vec<u8>, n: &BigNumRef) {
    let mut v = n.to_vec();
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    put_string(out, &v);
}

/// Converts OpenSSL key material into an ssh-key private key (via the OpenSSH wire encoding).
pub fn to_ssh_key(pkey: &PKey<Private>, comment: &str) -> Result<PrivateKey, FactoryError> {
    let mut w = Vec::new();
    match pkey.id() {
        Id::RSA => {
            let r = pkey.rsa()?;
            put_string(&mut w, b"ssh-rsa");
            put_mpint(&mut w, r.n());
            put_mpint(&mut w, r.e());
            put_mpint(&mut w, r.d());
            let iqmp = r
                .iqmp()
                .ok_or_else(|| FactoryError::Unsupported("RSA key without CRT values".into()))?;
            put_mpint(&mut w, iqmp);
            put_mpint(&mut w, r.p().expect("p"));
            put_mpint(&mut w, r.q().expect("q"));
        }
        Id::EC => {
            let ec = pkey.ec_key()?;
            let (name, size) = match ec.group().curve_name() {
                Some(Nid::X9_62_PRIME256V1) => ("nistp256", 32),
                Some(Nid::SECP384R1) => ("nistp384", 48),
                Some(Nid::SECP521R1) => ("nistp521", 66),
                other => {
                    return Err(FactoryError::Unsupported(format!(
                        "EC curve {other:?} has no SSH name"
                    )))
                }
            };
            put_string(&mut w, format!("ecdsa-sha2-{name}").as_bytes());
            put_string(&mut w, name.as_bytes());
            let mut ctx = openssl::bn::BigNumContext::new()?;
            let point = ec.public_key().to_bytes(
                ec.group(),
                PointConversionForm::UNCOMPRESSED,
                &mut ctx,
            )?;
            put_string(&mut w, &point);
            // Fixed-width scalar (ssh-key rejects short encodings), with a sign byte if needed.
            let mut d = ec.private_key().to_vec_padded(size)?;
            if d[0] & 0x80 != 0 {
                d.insert(0, 0);
            }
            put_string(&mut w, &d);
        }
        Id::ED25519 => {
            let sk = pkey.raw_private_key()?;
            let pk = pkey.raw_public_key()?;
            put_string(&mut w, b"ssh-ed25519");
            put_string(&mut w, &pk);
            let mut both = sk.clone();
            both.extend_from_slice(&pk);
            put_string(&mut w, &both);
        }
        Id::DSA => {
            let d = pkey.dsa()?;
            put_string(&mut w, b"ssh-dss");
            put_mpint(&mut w, d.p());
            put_mpint(&mut w, d.q());
            put_mpint(&mut w, d.g());
            put_mpint(&mut w, d.pub_key());
            put_mpint(&mut w, d.priv_key());
        }
        other => {
            return Err(FactoryError::Unsupported(format!(
                "key type {other:?} has no SSH form"
            )))
        }
    }
    let data = KeypairData::decode(&mut w.as_slice())
        .map_err(|e| FactoryError::SshKey(format!("decode keypair: {e}")))?;
    PrivateKey::new(data, comment).map_err(|e| FactoryError::SshKey(e.to_string()))
}
