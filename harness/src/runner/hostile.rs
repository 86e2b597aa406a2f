//! Hostile and broken servers for reliability tests: in-process stubs on one end of a pipe, in
//! place of sshd. Every loop is bounded; each stub ends when the client goes away.

use sshmatrix_servers::Effective;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

pub use crate::matrix::Hostile;

const FLOOD_LIMIT: usize = 8 << 20;

fn name_list(out: &mut Vec<u8>, names: &[String]) {
    let joined = names.join(",");
    out.extend_from_slice(&(joined.len() as u32).to_be_bytes());
    out.extend_from_slice(joined.as_bytes());
}

/// A KEXINIT binary packet offering the lists of `eff`.
pub fn kexinit_packet(eff: &Effective) -> Vec<u8> {
    let mut payload = vec![20u8];
    payload.extend_from_slice(&[7u8; 16]);
    for list in [
        &eff.kex,
        &eff.hostkey,
        &eff.ciphers,
        &eff.ciphers,
        &eff.macs,
        &eff.macs,
        &eff.compression,
        &eff.compression,
    ] {
        name_list(&mut payload, list);
    }
    name_list(&mut payload, &[]);
    name_list(&mut payload, &[]);
    payload.push(0);
    payload.extend_from_slice(&0u32.to_be_bytes());
    let mut pad = 8 - (payload.len() + 5) % 8;
    if pad < 4 {
        pad += 8;
    }
    let mut pkt = ((payload.len() + pad + 1) as u32).to_be_bytes().to_vec();
    pkt.push(pad as u8);
    pkt.extend_from_slice(&payload);
    pkt.extend(std::iter::repeat_n(0u8, pad));
    pkt
}

async fn drain(mut s: DuplexStream) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// Serves one connection the hostile way on `s`.
pub async fn serve(kind: Hostile, mut s: DuplexStream, eff: Effective) {
    let hello = async |s: &mut DuplexStream| {
        let _ = s
            .write_all(b"SSH-2.0-OpenSSH_9.2 sshmatrix-hostile\r\n")
            .await;
        let _ = s.write_all(&kexinit_packet(&eff)).await;
        let _ = s.flush().await;
    };
    match kind {
        Hostile::Silent => drain(s).await,
        Hostile::StallKex => {
            hello(&mut s).await;
            drain(s).await
        }
        Hostile::Dies => {
            hello(&mut s).await;
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf).await;
            drop(s);
        }
        Hostile::Garbage => {
            let mut sent = 0;
            let mut chunk = vec![0u8; 16 * 1024];
            while sent < FLOOD_LIMIT {
                openssl::rand::rand_bytes(&mut chunk).expect("OpenSSL RNG");
                if s.write_all(&chunk).await.is_err() {
                    return;
                }
                sent += chunk.len();
            }
            drain(s).await
        }
    }
}
