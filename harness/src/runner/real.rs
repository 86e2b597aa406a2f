//! Cells of real clients (drivers): the server end (and jump host) on this host or a one-shot
//! port, then the driver; the verdict comes from the server's log.

use std::path::PathBuf;

use sshmatrix_clients::emulator::{self, ClientOutcome};

use super::emulated::no_verdict;
use super::jump::real_jump;
use super::keys::key_id;
use super::Shared;
use crate::matrix::Cell;

/// A cell of a real client (a driver): its server end (and jump host) on this host or a
/// one-shot port, then the driver; the verdict comes from the server's log.
pub(super) async fn run_real(
    shared: &Shared,
    cell: &Cell,
    driver: sshmatrix_clients::Driver,
) -> (ClientOutcome, Option<String>) {
    match real_cell(shared, cell, driver, Served::Helped).await {
        Ok(real) => {
            let (o, log) = super::drivers::run(real, &shared.client.factory).await;
            (o, Some(log))
        }
        Err(o) => (o, None),
    }
}

/// How a real client's cell starts its processes in containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Served {
    /// Through each container's helper (sshmatrix's runs).
    Helped,
    /// A `docker exec` per process, as a plain script would (`bench --real`'s loop).
    Plain,
}

/// A real client's cell, run a second time when its refusal may be the client's unpadded RSA
/// signature meeting a server that verifies only exact-length ones (1 signature in 256): a
/// login on the second run is the verdict, with a note of the refusal; otherwise the first
/// refusal stands. The same key refused twice is a refusal.
pub(super) async fn run_real_once_more(
    shared: &Shared,
    cell: &Cell,
    driver: sshmatrix_clients::Driver,
) -> (ClientOutcome, Option<String>) {
    let first = run_real(shared, cell, driver).await;
    let target = &shared.plan.targets[cell.target];
    let strict = target
        .policy
        .facts
        .as_ref()
        .is_some_and(|f| f.rsa_signature_exact_length);
    let maybe_short = driver.unpadded_rsa_signatures()
        && strict
        && shared.keys[&key_id(cell)].spec.family() == "rsa"
        && first.0.verdict == emulator::Verdict::Fail
        && first.0.stage == emulator::Stage::Auth;
    if !maybe_short {
        return first;
    }
    let mut second = run_real(shared, cell, driver).await;
    if second.0.verdict != emulator::Verdict::Ok {
        return first;
    }
    second.0.notes.push(format!(
        "the first attempt was refused ({}) and this one logged in: {} leaves the leading zero bytes out of an RSA signature (about 1 in 256 is a byte short) and {} verifies only signatures as long as the key's modulus, so about 1 login in 256 fails",
        first.0.reason,
        cell.client.display_name(),
        target.policy.server_release(),
    ));
    second
}

/// The outcome of a cell the driver cannot run (`check` refuses these, but plans derived by
/// `explain --fix` are not checked again); `None` when it can.
fn unrunnable(
    shared: &Shared,
    cell: &Cell,
    driver: sshmatrix_clients::Driver,
) -> Option<ClientOutcome> {
    let target = &shared.plan.targets[cell.target];
    let unplain = target.remote().is_some() || !target.scenario.real_clients_run();
    if driver.runs(cell.holder, target.via.is_some()) && !unplain {
        return None;
    }
    Some(ClientOutcome::new(
        emulator::Verdict::Error,
        emulator::Stage::Connect,
        format!(
            "the {} driver cannot run this cell (see `sshmatrix check`)",
            driver.name()
        ),
    ))
}

/// What a real client's cell needs: its server end (and jump host), key, login and helpers.
pub(super) async fn real_cell<'a>(
    shared: &'a Shared,
    cell: &'a Cell,
    driver: sshmatrix_clients::Driver,
    served: Served,
) -> Result<super::drivers::RealCell<'a>, ClientOutcome> {
    let target = &shared.plan.targets[cell.target];
    let file = &shared.keys[&key_id(cell)];
    if let Some(refused) = unrunnable(shared, cell, driver) {
        return Err(refused);
    }
    let log = shared.client.logs.join(format!("cell-{}.log", cell.index));
    let container = cell
        .client
        .image
        .as_ref()
        .and_then(|i| shared.client.containers.get(i));
    let inside = container.map(|c| c.prefix.as_slice());
    let jump = match target.via {
        None => None,
        Some(vi) => Some(real_jump(shared, cell, vi).await?),
    };
    let plain;
    let server_target = match served {
        Served::Helped => &shared.targets[cell.target].server,
        Served::Plain => {
            plain = shared.targets[cell.target].server.without_helper();
            &plain
        }
    };
    let server = super::drivers::ServerEnd::for_client(
        server_target,
        &log,
        // A container target's server is reached through a one-shot port that lets the run
        // wait for it (the helper's connection, or a plain `docker exec`), so its log is
        // complete when it is read. Libraries connect a socket themselves.
        inside.is_some() || jump.is_some() || target.image().is_some() || driver.needs_port(),
        shared.timeout,
    )
    .await
    .map_err(|e| no_verdict(format!("cannot open a port for the client container: {e}")))?;
    Ok(super::drivers::RealCell {
        profile: &cell.client,
        server,
        host_key_pubs: shared.targets[cell.target].host_key_pubs.clone(),
        key: file,
        login: shared.login_for(cell),
        log,
        askpass: &shared.client.askpass,
        inside,
        helper: container
            .filter(|_| served == Served::Helped)
            .map(|c| c.helper.as_ref()),
        agent: cell
            .holder
            .uses_agent()
            .then(|| shared.client.agents.get(&key_id(cell)))
            .flatten()
            .map(PathBuf::as_path),
        jump,
        password: match cell.holder {
            crate::matrix::Holder::Password => Some(shared.client.wrong_password.as_path()),
            h if h.uses_account_password() => shared.account_password.as_deref(),
            _ => None,
        },
        password_after_key: cell.holder.two_steps(),
        keyboard_interactive: cell.holder.keyboard_interactive(),
        known_hosts: shared
            .certs
            .host(cell.target.0)
            .map(|h| h.known_hosts.as_path()),
        timeout: shared.timeout,
        certificate: shared.certs.of(cell),
        program: shared
            .client
            .programs
            .get(&cell.client.id)
            .map(Vec::as_slice),
    })
}
