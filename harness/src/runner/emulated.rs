//! Cells of emulated clients: the key as the client reads it, then the server end its target
//! has (a remote host, a refused port, a jump host, a hostile stub, or a local or container
//! server).

use std::time::Duration;

use sshmatrix_clients::emulator::{self, Attempt, ClientOutcome};

use super::client_side::WRONG_PASSWORD;
use super::jump::run_via;
use super::keys::key_id;
use super::remote::run_remote;
use super::Shared;
use crate::matrix::{Backend, Cell, Method};

/// A TCP connect to a port on 127.0.0.1 where nothing listens: the kernel's real refusal.
pub(super) async fn refused_connect() -> ClientOutcome {
    // A socket bound but never listening holds the port for the whole attempt: nothing else
    // can take it between choosing the port and connecting, so the kernel answers RST.
    let held = tokio::net::TcpSocket::new_v4().and_then(|s| {
        s.bind("127.0.0.1:0".parse().expect("literal address"))
            .map(|()| s)
    });
    let reason = match held.and_then(|s| s.local_addr().map(|a| (s, a.port()))) {
        Err(e) => format!("cannot reserve a closed port on 127.0.0.1: {e}"),
        Ok((_held, port)) => match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(_) => "a listener appeared on the closed port".to_string(),
            Err(e) => format!("connect to 127.0.0.1:{port}: {e}"),
        },
    };
    ClientOutcome::new(emulator::Verdict::Fail, emulator::Stage::Connect, reason)
}

/// A cell that could not be set up (no port, no sshd): no verdict, at the connect stage.
pub(super) fn no_verdict(reason: String) -> ClientOutcome {
    ClientOutcome::new(emulator::Verdict::Error, emulator::Stage::Connect, reason)
}

/// A cell of an emulated client: the key as the client reads it, then the server end its
/// target has (remote host, refused port, jump host, hostile stub or a local/container sshd).
pub(super) async fn run_emulated(shared: &Shared, cell: &Cell) -> (ClientOutcome, Option<String>) {
    let target = &shared.plan.targets[cell.target];
    // A password cell's client holds no key: its key file is never read.
    let file = &shared.keys[&key_id(cell)];
    let key = match cell.holder.uses_key() {
        false => None,
        true => match shared.load(cell, file).await {
            Ok(k) => Some(k),
            Err(e) => {
                let o = ClientOutcome::new(
                    emulator::Verdict::Fail,
                    emulator::Stage::KeyLoad,
                    format!("{} {e}", cell.client.display_name()),
                );
                return (o, None);
            }
        },
    };
    let certificate = match shared.certs.of(cell).map(emulator::certificate::read) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            return (
                no_verdict(format!("cannot read the certificate: {e}")),
                None,
            )
        }
    };
    match &target.backend {
        Backend::Remote(r) => return (run_remote(shared, cell, r, key).await, None),
        Backend::Unreachable => return (refused_connect().await, None),
        Backend::Local | Backend::Container(_) | Backend::Hostile(_) => {}
    }
    // The cell's client side, whatever the server end is.
    let attempt = Attempt {
        profile: &cell.client,
        server: &shared.targets[cell.target].hello,
        key,
        user: shared.login_for(cell),
        timeout: shared.timeout,
        known_host_key: shared.targets[cell.target].extras.known_host_key.clone(),
        host_key_pin: None,
        other_keys_first: shared.targets[cell.target].extras.decoys.clone(),
        password: (target.scenario.method == Method::Password
            || cell.holder == crate::matrix::Holder::Password)
            .then(|| WRONG_PASSWORD.to_string()),
        agent: cell
            .holder
            .uses_agent()
            .then(|| shared.client.agents.get(&key_id(cell)).cloned())
            .flatten(),
        certificate,
    };
    if let Some(vi) = target.via {
        return run_via(shared, cell, attempt, vi).await;
    }
    if let Backend::Hostile(kind) = target.backend {
        let (client_end, server_end) = tokio::io::duplex(64 * 1024);
        let eff = shared.targets[cell.target].effective.clone();
        let stub = tokio::spawn(super::hostile::serve(kind, server_end, eff));
        let outcome = emulator::attempt(attempt, client_end).await;
        stub.abort();
        return (outcome, None);
    }
    let (stream, session) = match shared.targets[cell.target]
        .server
        .connect(shared.timeout)
        .await
    {
        Ok(x) => x,
        Err(e) => {
            return (no_verdict(format!("cannot start sshd: {e}")), None);
        }
    };
    let mut outcome = emulator::attempt(attempt, stream).await;
    let done = session.finish_checked(Duration::from_secs(3)).await;
    outcome.stopped_from_outside |= done.stopped_from_outside;
    (outcome, Some(done.log))
}
