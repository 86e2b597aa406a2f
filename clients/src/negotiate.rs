//! Algorithm negotiation (RFC 4253 §7.1) over a client's full lists and a server's KEXINIT, and
//! the wire probe that reads a server's identification and KEXINIT.

use std::fmt;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::profile::KexLists;

/// KEX-list entries that are protocol markers, not algorithms.
pub fn is_marker(name: &str) -> bool {
    matches!(name, "ext-info-c" | "ext-info-s")
        || name.starts_with("kex-strict-")
        || name.starts_with("kexguess2@")
}

/// Ciphers that carry their own integrity: no MAC is negotiated with them.
pub fn is_aead(cipher: &str) -> bool {
    matches!(
        cipher,
        "chacha20-poly1305@openssh.com" | "aes128-gcm@openssh.com" | "aes256-gcm@openssh.com"
    )
}

/// What a server sent before key exchange: identification string and KEXINIT lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerHello {
    /// Identification string without CR LF.
    pub ident: String,
    /// kex_algorithms (markers included).
    pub kex: Vec<String>,
    /// server_host_key_algorithms.
    pub hostkey: Vec<String>,
    /// encryption_algorithms_client_to_server.
    pub cipher_c2s: Vec<String>,
    /// encryption_algorithms_server_to_client.
    pub cipher_s2c: Vec<String>,
    /// mac_algorithms_client_to_server.
    pub mac_c2s: Vec<String>,
    /// mac_algorithms_server_to_client.
    pub mac_s2c: Vec<String>,
    /// compression_algorithms_client_to_server.
    pub comp_c2s: Vec<String>,
    /// compression_algorithms_server_to_client.
    pub comp_s2c: Vec<String>,
}

impl ServerHello {
    /// Whether the server takes part in strict key exchange (Terrapin countermeasure).
    pub fn strict_kex(&self) -> bool {
        self.kex.iter().any(|k| k == "kex-strict-s-v00@openssh.com")
    }
}

/// The negotiation categories, in the order SSH checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Key exchange.
    Kex,
    /// Host key algorithm.
    Hostkey,
    /// Cipher.
    Cipher,
    /// MAC.
    Mac,
    /// Compression.
    Compression,
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Category::Kex => "key exchange",
            Category::Hostkey => "host key",
            Category::Cipher => "cipher",
            Category::Mac => "MAC",
            Category::Compression => "compression",
        })
    }
}

/// The algorithms both sides would agree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Negotiated {
    /// Key exchange.
    pub kex: String,
    /// Host key algorithm.
    pub hostkey: String,
    /// Cipher (client to server; the same lists are used both ways by every profile).
    pub cipher: String,
    /// MAC, or `None` with an AEAD cipher.
    pub mac: Option<String>,
    /// Compression.
    pub compression: String,
}

/// No algorithm in common for one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoCommon {
    /// Which category failed.
    pub category: Category,
    /// The server's list for it.
    pub server: Vec<String>,
}

impl fmt::Display for NoCommon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no matching {} algorithm (server offers: {})",
            self.category,
            self.server.join(",")
        )
    }
}

fn choose(client: &[String], server: &[String]) -> Option<String> {
    client
        .iter()
        .filter(|c| !is_marker(c))
        .find(|c| server.contains(c))
        .cloned()
}

/// Negotiates as RFC 4253 §7.1 does: for each category the first client algorithm the server
/// also lists; the MAC only for non-AEAD ciphers (as OpenSSH does).
pub fn negotiate(client: &KexLists, server: &ServerHello) -> Result<Negotiated, NoCommon> {
    let fail = |category, list: &Vec<String>| NoCommon {
        category,
        server: list.iter().filter(|n| !is_marker(n)).cloned().collect(),
    };
    let kex = choose(&client.kex, &server.kex).ok_or_else(|| fail(Category::Kex, &server.kex))?;
    let hostkey = choose(&client.hostkey, &server.hostkey)
        .ok_or_else(|| fail(Category::Hostkey, &server.hostkey))?;
    let cipher = choose(&client.cipher, &server.cipher_c2s)
        .ok_or_else(|| fail(Category::Cipher, &server.cipher_c2s))?;
    let mac = if is_aead(&cipher) {
        None
    } else {
        Some(
            choose(&client.mac, &server.mac_c2s)
                .ok_or_else(|| fail(Category::Mac, &server.mac_c2s))?,
        )
    };
    let compression = choose(&client.compression, &server.comp_c2s)
        .ok_or_else(|| fail(Category::Compression, &server.comp_c2s))?;
    Ok(Negotiated {
        kex,
        hostkey,
        cipher,
        mac,
        compression,
    })
}

/// Errors of the wire probe.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// I/O failed or the server closed the connection.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server sent something that is not SSH.
    #[error("protocol error: {0}")]
    Protocol(String),
}

fn name_list(buf: &mut &[u8]) -> Result<Vec<String>, ProbeError> {
    let bad = || ProbeError::Protocol("truncated KEXINIT".into());
    if buf.len() < 4 {
        return Err(bad());
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if buf.len() < 4 + len {
        return Err(bad());
    }
    let text = sshmatrix_core::text::printable(&String::from_utf8_lossy(&buf[4..4 + len]));
    *buf = &buf[4 + len..];
    Ok(if text.is_empty() {
        Vec::new()
    } else {
        text.split(',').map(str::to_string).collect()
    })
}

/// The longest identification string (RFC 4253 §4.2: 255 characters with its CR LF).
pub const MAX_IDENT: usize = 255;
/// The longest line a server may send before its identification string, and how many.
const MAX_BANNER_LINE: usize = 1024;
const MAX_BANNER_LINES: usize = 64;

/// Reads one line of at most `max` bytes (its LF included); `Ok(None)` at end of stream.
async fn bounded_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    max: usize,
) -> Result<Option<Vec<u8>>, ProbeError> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok((!line.is_empty()).then_some(line));
        }
        let take = buf.iter().position(|&b| b == b'\n').map(|i| i + 1);
        let n = take.unwrap_or(buf.len()).min(max + 1 - line.len());
        line.extend_from_slice(&buf[..n]);
        r.consume(n);
        if line.starts_with(b"SSH-") && line.len() > MAX_IDENT {
            return Err(ProbeError::Protocol(format!(
                "identification string longer than {MAX_IDENT} bytes (RFC 4253 §4.2)"
            )));
        }
        if line.len() > max {
            return Err(ProbeError::Protocol(format!(
                "a line of more than {max} bytes before the identification string"
            )));
        }
        if take.is_some_and(|t| t <= n) {
            return Ok(Some(line));
        }
    }
}

/// The peer's identification string: lines before it are skipped (at most
/// [`MAX_BANNER_LINES`] of [`MAX_BANNER_LINE`] bytes), the string itself is at most
/// [`MAX_IDENT`] bytes, and control characters in it are shown escaped
/// ([`sshmatrix_core::text::printable`]), never passed on raw.
async fn identification<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> Result<String, ProbeError> {
    for _ in 0..MAX_BANNER_LINES {
        let Some(line) = bounded_line(r, MAX_BANNER_LINE).await? else {
            return Err(ProbeError::Protocol(
                "connection closed before the identification string".into(),
            ));
        };
        if line.starts_with(b"SSH-") {
            let text = String::from_utf8_lossy(&line);
            return Ok(sshmatrix_core::text::printable(text.trim_end()));
        }
    }
    Err(ProbeError::Protocol("no SSH identification string".into()))
}

/// Sends `our_ident` and reads the server's identification string and KEXINIT packet.
pub async fn probe<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    our_ident: &str,
) -> Result<ServerHello, ProbeError> {
    let mut stream = BufReader::new(stream);
    stream
        .get_mut()
        .write_all(format!("{our_ident}\r\n").as_bytes())
        .await?;
    stream.get_mut().flush().await?;
    let ident = identification(&mut stream).await?;
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).await?;
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if !(16..=256 * 1024).contains(&len) {
        return Err(ProbeError::Protocol(format!("bad packet length {len}")));
    }
    let mut body = vec![0u8; len - 1];
    stream.read_exact(&mut body).await?;
    let payload_len = (len - 1).saturating_sub(head[4] as usize);
    hello_of(ident, &body[..payload_len])
}

/// The identification string and KEXINIT a peer sent, from the first bytes it wrote (a
/// recording server's copy of a client's first packets): `Ok(None)` when they end before the
/// KEXINIT is complete.
pub fn parse_hello(bytes: &[u8]) -> Result<Option<ServerHello>, ProbeError> {
    let Some(end) = bytes.iter().position(|&b| b == b'\n') else {
        return match bytes.len() > 255
            || (!bytes.is_empty() && !b"SSH-".starts_with(&bytes[..bytes.len().min(4)]))
        {
            true => Err(garbage(bytes)),
            false => Ok(None),
        };
    };
    if end >= MAX_IDENT {
        return Err(garbage(bytes));
    }
    let ident = sshmatrix_core::text::printable(String::from_utf8_lossy(&bytes[..end]).trim_end());
    if !ident.starts_with("SSH-") {
        return Err(garbage(bytes));
    }
    let rest = &bytes[end + 1..];
    if rest.len() < 5 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    if !(16..=256 * 1024).contains(&len) {
        return Err(ProbeError::Protocol(format!("bad packet length {len}")));
    }
    let Some(body) = rest.get(5..4 + len) else {
        return Ok(None);
    };
    let payload_len = (len - 1).saturating_sub(rest[4] as usize);
    hello_of(ident, &body[..payload_len]).map(Some)
}

/// The error for bytes that do not begin with an identification string, quoting them.
fn garbage(bytes: &[u8]) -> ProbeError {
    let shown: String = String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '.'
            }
        })
        .collect();
    ProbeError::Protocol(format!(
        "sent `{shown}` instead of an SSH identification string"
    ))
}

/// An identification string and a KEXINIT payload as the eight lists.
fn hello_of(ident: String, payload: &[u8]) -> Result<ServerHello, ProbeError> {
    if payload.first() != Some(&20) || payload.len() < 17 {
        return Err(ProbeError::Protocol("first packet is not KEXINIT".into()));
    }
    let mut rest = &payload[17..];
    let mut lists = Vec::new();
    for _ in 0..8 {
        lists.push(name_list(&mut rest)?);
    }
    let mut it = lists.into_iter();
    let mut next = || it.next().unwrap_or_default();
    Ok(ServerHello {
        ident,
        kex: next(),
        hostkey: next(),
        cipher_c2s: next(),
        cipher_s2c: next(),
        mac_c2s: next(),
        mac_s2c: next(),
        comp_c2s: next(),
        comp_s2c: next(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(kex: &[&str], hk: &[&str], c: &[&str], m: &[&str]) -> KexLists {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        KexLists {
            kex: v(kex),
            hostkey: v(hk),
            cipher: v(c),
            mac: v(m),
            compression: vec!["none".into()],
        }
    }

    fn server() -> ServerHello {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        ServerHello {
            ident: "SSH-2.0-x".into(),
            kex: v(&[
                "curve25519-sha256",
                "ecdh-sha2-nistp256",
                "kex-strict-s-v00@openssh.com",
            ]),
            hostkey: v(&["ssh-ed25519", "ecdsa-sha2-nistp256"]),
            cipher_c2s: v(&["aes256-ctr"]),
            cipher_s2c: v(&["aes256-ctr"]),
            mac_c2s: v(&["hmac-sha2-256"]),
            mac_s2c: v(&["hmac-sha2-256"]),
            comp_c2s: v(&["none"]),
            comp_s2c: v(&["none"]),
        }
    }

    #[test]
    fn client_order_wins_and_markers_never_match() {
        let c = lists(
            &["ext-info-c", "ecdh-sha2-nistp256", "curve25519-sha256"],
            &["ecdsa-sha2-nistp256", "ssh-ed25519"],
            &["camellia256-ctr", "aes256-ctr"],
            &["hmac-sha2-512", "hmac-sha2-256"],
        );
        let n = negotiate(&c, &server()).unwrap();
        assert_eq!(n.kex, "ecdh-sha2-nistp256");
        assert_eq!(n.hostkey, "ecdsa-sha2-nistp256");
        assert_eq!(n.cipher, "aes256-ctr");
        assert_eq!(n.mac.as_deref(), Some("hmac-sha2-256"));
    }

    #[test]
    fn reports_the_first_failing_category_with_the_server_list() {
        let c = lists(
            &["ecdh-sha2-nistp256"],
            &["ssh-rsa"],
            &["aes256-ctr"],
            &["hmac-sha1"],
        );
        let e = negotiate(&c, &server()).unwrap_err();
        assert_eq!(e.category, Category::Hostkey);
        assert_eq!(e.server, vec!["ssh-ed25519", "ecdsa-sha2-nistp256"]);
    }

    #[test]
    fn aead_cipher_skips_mac_negotiation() {
        let mut s = server();
        s.cipher_c2s = vec!["aes256-gcm@openssh.com".into()];
        let c = lists(
            &["ecdh-sha2-nistp256"],
            &["ssh-ed25519"],
            &["aes256-gcm@openssh.com"],
            &["hmac-md5"],
        );
        assert_eq!(negotiate(&c, &s).unwrap().mac, None);
    }
}
