//! Who is on the other end of a 127.0.0.1 connection. Every one-shot port sshmatrix opens (a
//! jump host's target, an in-image client's server, a library client's server) is reachable
//! by any local user; the kernel knows which user owns the connecting socket (`/proc/net/tcp`,
//! the `uid` column of the peer's end), so a connection from another user is turned away
//! before any server sees it.

use std::net::SocketAddr;

/// The uid owning the socket at `peer` that is connected to `local` (both on this host), from
/// `/proc/net/tcp` or `/proc/net/tcp6`: a client's IPv6 socket connected to an IPv4 address
/// (Java's, by default) shows there with IPv4-mapped addresses.
pub fn peer_uid(local: SocketAddr, peer: SocketAddr) -> Option<u32> {
    peer_socket(local, peer).map(|(uid, _)| uid)
}

/// The uid and socket inode of the peer's end (see [`peer_uid`]).
fn peer_socket(local: SocketAddr, peer: SocketAddr) -> Option<(u32, u64)> {
    let mut tables = Vec::new();
    if let (SocketAddr::V4(p), SocketAddr::V4(l)) = (peer, local) {
        tables.push((
            "/proc/net/tcp",
            v4(*p.ip(), p.port()),
            v4(*l.ip(), l.port()),
        ));
    }
    tables.push((
        "/proc/net/tcp6",
        v6(&peer.ip(), peer.port()),
        v6(&local.ip(), local.port()),
    ));
    tables
        .into_iter()
        .find_map(|(file, want_local, want_remote)| find(file, &want_local, &want_remote))
}

/// The uid and inode columns of the line of `file` whose local and remote addresses are these.
fn find(file: &str, want_local: &str, want_remote: &str) -> Option<(u32, u64)> {
    first_row(file, |f| {
        if f.len() <= 9 || f[1] != want_local || f[2] != want_remote {
            return None;
        }
        Some((f[7].parse().ok()?, f[9].parse().ok()?))
    })
    .flatten()
}

/// What `pick` makes of the first socket line of a kernel table (`/proc/net/tcp`), split into
/// columns, it makes something of; `None`: the table is unreadable.
fn first_row<T>(file: &str, pick: impl Fn(&[&str]) -> Option<T>) -> Option<Option<T>> {
    let table = std::fs::read_to_string(file).ok()?;
    Some(table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        pick(&f)
    }))
}

/// Whether a socket listens on `local` (state `0A` in `/proc/net/tcp`); `None`: the table is
/// unreadable.
pub fn listening(local: std::net::SocketAddrV4) -> Option<bool> {
    let want = v4(*local.ip(), local.port());
    let found = first_row("/proc/net/tcp", |f| {
        (f.len() > 3 && f[1] == want && f[3] == "0A").then_some(())
    });
    found.map(|f| f.is_some())
}

/// Whether a process holding socket `inode` runs in a container: another pid namespace under
/// the same user namespace as sshmatrix. Docker's containers are so (no user-namespace remap);
/// an unprivileged local user cannot make one (a new pid namespace needs a user namespace of
/// its own). Telling needs the right to look at other users' processes (root); without it the
/// answer is no.
fn in_container(inode: u64) -> bool {
    let ns = |pid: &str, kind: &str| std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok();
    let (Some(user), Some(pids)) = (ns("self", "user"), ns("self", "pid")) else {
        return false;
    };
    let socket = std::path::PathBuf::from(format!("socket:[{inode}]"));
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    for p in procs.flatten() {
        let pid = p.file_name().to_string_lossy().to_string();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).ok().as_ref() == Some(&socket))
        {
            return ns(&pid, "user").as_ref() == Some(&user)
                && ns(&pid, "pid").as_ref() != Some(&pids);
        }
    }
    false
}

/// An IPv4 address and port as `/proc/net/tcp` writes them: the address as the 32-bit word in
/// host (little-endian) order, then the port, both in upper-case hex.
fn v4(ip: std::net::Ipv4Addr, port: u16) -> String {
    format!("{:08X}:{port:04X}", u32::from_le_bytes(ip.octets()))
}

/// An address as `/proc/net/tcp6` writes it: four 32-bit words, each in host order.
fn v6(ip: &std::net::IpAddr, port: u16) -> String {
    let octets = match ip {
        std::net::IpAddr::V6(a) => a.octets(),
        std::net::IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    };
    let words: String = octets
        .chunks(4)
        .map(|c| format!("{:08X}", u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    format!("{words}:{port:04X}")
}

/// Whether a connection from `peer` to `local` comes from this user or root (whose processes,
/// sshmatrix's clients in containers among them, are trusted anyway), or from a process in a
/// container (a container jump host's sshd opening the next hop as its account).
pub fn trusted(local: SocketAddr, peer: SocketAddr) -> Result<(), String> {
    let me = sshmatrix_core::fsx::euid();
    match peer_socket(local, peer) {
        Some((uid, _)) if uid == me || uid == 0 => Ok(()),
        // A container's process (a jump host's sshd forwarding as its account) is sshmatrix's.
        Some((_, inode)) if in_container(inode) => Ok(()),
        Some((uid, _)) => Err(format!(
            "a connection from {peer} by uid {uid} (another local user) was turned away"
        )),
        None => Err(format!(
            "a connection from {peer} whose owner the kernel did not name was turned away"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_owner_of_a_local_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(local).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(peer_uid(local, peer), Some(sshmatrix_core::fsx::euid()));
        assert_eq!(trusted(local, peer), Ok(()));
    }

    #[test]
    fn names_the_owner_of_an_ipv6_socket_connected_to_an_ipv4_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let mapped: SocketAddr = format!("[::ffff:127.0.0.1]:{}", local.port())
            .parse()
            .unwrap();
        let Ok(_client) = std::net::TcpStream::connect(mapped) else {
            return; // no IPv6 on this machine
        };
        let (_server, peer) = listener.accept().unwrap();
        assert_eq!(peer_uid(local, peer), Some(sshmatrix_core::fsx::euid()));
    }

    #[test]
    fn writes_addresses_as_the_kernel_does() {
        assert_eq!(v4("127.0.0.1".parse().unwrap(), 8080), "0100007F:1F90");
    }
}
