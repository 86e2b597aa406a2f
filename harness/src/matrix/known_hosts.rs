//! Host key pins from a known_hosts file.

use std::path::Path;

/// The SHA256 fingerprints of `host`'s keys in a known_hosts file (plain, not hashed, entries:
/// `host` for port 22, `[host]:port` otherwise), comma-separated.
pub fn known_hosts_pin(path: &Path, host: &str, port: u16) -> Result<String, String> {
    let text = crate::bounded::read_to_string(path, crate::bounded::MAX_CONFIG)
        .map_err(|e| format!("known_hosts {}: {e}", path.display()))?;
    let want = if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    };
    let mut pins = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let mut parts = line.split_whitespace();
        let (Some(hosts), Some(kind), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if hosts.split(',').any(|h| h == want) {
            let key = russh::keys::ssh_key::PublicKey::from_openssh(&format!("{kind} {b64}"))
                .map_err(|e| format!("known_hosts {}: bad key for {want}: {e}", path.display()))?;
            pins.push(
                key.fingerprint(russh::keys::ssh_key::HashAlg::Sha256)
                    .to_string(),
            );
        }
    }
    if !pins.is_empty() {
        return Ok(pins.join(","));
    }
    Err(format!(
        "known_hosts {} has no plain entry for {want} (hashed entries cannot be matched)",
        path.display()
    ))
}
