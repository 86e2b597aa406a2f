//! The whole ext-info `server-sig-algs` list of a live server, read by this host's OpenSSH
//! client (`ssh -vvv` prints it; the engine exposes only its best RSA entry). The client
//! connects through an in-process relay that forwards its bytes to the server only up to and
//! including its NEWKEYS packet: the server sends ext-info right after that, and never sees a
//! service or authentication request.

use std::process::Stdio;
use std::time::Duration;

use sshmatrix_clients::negotiate::{is_marker, ServerHello};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// SSH_MSG_NEWKEYS.
const NEWKEYS: u8 = 21;

/// What `ssh -Q WHAT` lists.
async fn supported(ssh: &str, what: &str) -> Vec<String> {
    let out = tokio::process::Command::new(ssh)
        .args(["-Q", what])
        .stdin(Stdio::null())
        .output()
        .await;
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// The server's list narrowed to what the local client speaks, in the server's order; `None`
/// when nothing is left.
fn common(server: &[String], ours: &[String]) -> Option<String> {
    let both: Vec<&str> = server
        .iter()
        .filter(|s| !is_marker(s) && ours.contains(s))
        .map(String::as_str)
        .collect();
    (!both.is_empty()).then(|| both.join(","))
}

/// The `-o` options that make the local client agree with the server on everything.
async fn options(ssh: &str, hello: &ServerHello) -> Result<Vec<String>, String> {
    let mut opts = Vec::new();
    for (keyword, what, list) in [
        ("KexAlgorithms", "kex", &hello.kex),
        ("HostKeyAlgorithms", "HostKeyAlgorithms", &hello.hostkey),
        ("Ciphers", "cipher", &hello.cipher_c2s),
        ("MACs", "mac", &hello.mac_c2s),
    ] {
        let ours = supported(ssh, what).await;
        let both = common(list, &ours)
            .ok_or_else(|| format!("this host's ssh shares no {what} algorithm with the server"))?;
        opts.push(format!("{keyword}={both}"));
    }
    Ok(opts)
}

/// Copies the client's identification line and its plaintext packets to the server, up to and
/// including NEWKEYS; then reads and drops the rest.
async fn forward_until_newkeys(
    client: tokio::net::tcp::OwnedReadHalf,
    mut server: tokio::net::tcp::OwnedWriteHalf,
) -> std::io::Result<()> {
    let mut client = BufReader::new(client);
    let mut ident = Vec::new();
    client.read_until(b'\n', &mut ident).await?;
    server.write_all(&ident).await?;
    loop {
        let mut head = [0u8; 6];
        client.read_exact(&mut head).await?;
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if !(2..=256 * 1024).contains(&len) {
            return Err(std::io::Error::other("bad packet length from the client"));
        }
        let mut rest = vec![0u8; len - 2];
        client.read_exact(&mut rest).await?;
        server.write_all(&head).await?;
        server.write_all(&rest).await?;
        if head[5] == NEWKEYS {
            break;
        }
    }
    tokio::io::copy(&mut client, &mut tokio::io::sink()).await?;
    Ok(())
}

/// Relays one connection from the local client to `host:port` (see [`forward_until_newkeys`]).
async fn relay(listener: tokio::net::TcpListener, host: String, port: u16) -> std::io::Result<()> {
    let (client, _) = listener.accept().await?;
    let server = TcpStream::connect((host.as_str(), port)).await?;
    let (client_r, mut client_w) = client.into_split();
    let (mut server_r, server_w) = server.into_split();
    let up = forward_until_newkeys(client_r, server_w);
    let down = tokio::io::copy(&mut server_r, &mut client_w);
    let _ = tokio::join!(up, down);
    Ok(())
}

/// The `server-sig-algs=<…>` list of an `ssh -v` debug line.
pub fn parse_line(line: &str) -> Option<Vec<String>> {
    let (_, rest) = line.split_once("server-sig-algs=<")?;
    let (list, _) = rest.split_once('>')?;
    Some(list.split(',').map(str::to_string).collect())
}

/// Reads `host:port`'s server-sig-algs with this host's `ssh` (within `timeout`).
pub async fn read(
    host: &str,
    port: u16,
    hello: &ServerHello,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let ssh = "ssh";
    let opts = options(ssh, hello).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let local = listener.local_addr().map_err(|e| e.to_string())?.port();
    let relay = tokio::spawn(relay(listener, host.to_string(), port));
    let mut cmd = tokio::process::Command::new(ssh);
    cmd.process_group(0)
        .args(["-vvv", "-F", "/dev/null", "-o", "BatchMode=yes"])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args([
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "IdentityAgent=none",
        ]);
    for o in &opts {
        cmd.arg("-o").arg(o);
    }
    let mut child = cmd
        .args([
            "-p",
            &local.to_string(),
            "-l",
            "sshmatrix-scan",
            "127.0.0.1",
            "true",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run ssh: {e}"))?;
    let stderr = child.stderr.take().expect("piped stderr");
    let found = async {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(list) = parse_line(&line) {
                return Ok(list);
            }
        }
        Err("ssh ended without printing server-sig-algs".to_string())
    };
    let result = tokio::time::timeout(timeout, found)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "ssh printed no server-sig-algs within {} s",
                timeout.as_secs()
            ))
        });
    drop(child);
    relay.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_list_of_either_debug_line() {
        let old = "debug1: kex_input_ext_info: server-sig-algs=<ssh-ed25519,rsa-sha2-512>";
        let new = "debug1: kex_ext_info_client_parse: server-sig-algs=<ssh-ed25519>";
        assert_eq!(
            parse_line(old).unwrap(),
            vec!["ssh-ed25519", "rsa-sha2-512"]
        );
        assert_eq!(parse_line(new).unwrap(), vec!["ssh-ed25519"]);
        assert_eq!(
            parse_line("debug1: kex_input_ext_info: publickey-hostbound@openssh.com=<0>"),
            None
        );
    }

    #[test]
    fn lists_narrowed_in_the_server_order_without_markers() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let server = v(&[
            "sntrup761x25519-sha512",
            "curve25519-sha256",
            "kex-strict-s-v00@openssh.com",
        ]);
        let ours = v(&[
            "curve25519-sha256",
            "sntrup761x25519-sha512",
            "kex-strict-s-v00@openssh.com",
        ]);
        assert_eq!(
            common(&server, &ours).unwrap(),
            "sntrup761x25519-sha512,curve25519-sha256"
        );
        assert_eq!(common(&server, &v(&["diffie-hellman-group1-sha1"])), None);
    }
}
