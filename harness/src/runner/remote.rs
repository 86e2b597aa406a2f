//! Remote targets (real appliances): the host key pin checked before any login, keys deployed
//! through an admin key, and each cell within its account's failed-login budget.

use std::sync::Arc;

use russh::keys::ssh_key::PrivateKey;
use std::time::Duration;

use sshmatrix_clients::emulator::{self, Attempt, ClientOutcome};
use sshmatrix_clients::load::load_key;
use sshmatrix_clients::{negotiate, ServerHello};

use super::budget::Spent;
use super::keys::{key_id, Keys};

/// What preparing a remote target needs.
pub(super) struct RemoteEnv<'a> {
    pub(super) plan: &'a Plan,
    pub(super) keys: &'a Keys,
    pub(super) timeout: Duration,
}

impl RemoteEnv<'_> {
    /// Checks the host key pin and reads the KEXINIT, deploys the keys when asked: the
    /// target's KEXINIT and the note a reader needs.
    pub(super) async fn prepare(
        &self,
        ti: TargetId,
        r: &crate::matrix::Remote,
    ) -> Result<(ServerHello, String), RunError> {
        let t = &self.plan.targets[ti];
        let hello = preflight(&t.id, r, self.timeout).await?;
        if let Some(d) = &r.deploy {
            deploy_keys(
                &t.id,
                r,
                d,
                &t.users,
                self.plan,
                ti.0,
                self.keys,
                self.timeout,
            )
            .await?;
        }
        let note = format!(
            "remote target `{}` ({}:{}): host key pinned; logs in as the matrix users; the server log is not available, reasons are the client's; at most {} failed logins per account per {} s",
            t.id, r.host, r.port, r.auth_budget, r.budget_window_secs
        );
        Ok((hello, note))
    }
}
use super::targets::authorized_lines;
use super::Shared;
use crate::error::RunError;
use crate::matrix::{Cell, Holder, Method, Plan, TargetId};

/// Connects to a remote target, with the cell timeout.
pub(super) async fn connect_remote(
    r: &crate::matrix::Remote,
    timeout: Duration,
) -> Result<tokio::net::TcpStream, String> {
    match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((r.host.as_str(), r.port)),
    )
    .await
    {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(format!("connect to {}:{}: {e}", r.host, r.port)),
        Err(_) => Err(format!("connect to {}:{}: timed out", r.host, r.port)),
    }
}

/// Before any login: the remote host must present the pinned host key (a mismatch stops the
/// run), and its KEXINIT is read for negotiation.
pub(super) async fn preflight(
    id: &str,
    r: &crate::matrix::Remote,
    timeout: Duration,
) -> Result<ServerHello, RunError> {
    let env = |m: String| RunError::Environment(format!("remote target `{id}`: {m}"));
    let stream = connect_remote(r, timeout).await.map_err(env)?;
    let key = tokio::time::timeout(timeout, emulator::host_key(stream))
        .await
        .map_err(|_| env("no key exchange within the timeout".into()))?
        .map_err(env)?;
    let fp = key
        .fingerprint(russh::keys::ssh_key::HashAlg::Sha256)
        .to_string();
    if !r.host_key.split(',').any(|p| p == fp) {
        return Err(env(format!(
            "host key {} {fp} does not match the pinned {}; refusing to log in (if the change is expected, update host_key)",
            key.algorithm().as_str(),
            r.host_key
        )));
    }
    let stream = connect_remote(r, timeout).await.map_err(env)?;
    tokio::time::timeout(timeout, negotiate::probe(stream, "SSH-2.0-sshmatrix_probe"))
        .await
        .map_err(|_| env("no KEXINIT within the timeout".into()))?
        .map_err(|e| env(format!("probe: {e}")))
}

/// The shell script that installs a user's keys: it reads the user, the key file's path and
/// then the key lines from standard input — no value from the matrix is ever part of the
/// command — appends each line once, and sets the ownership and mode StrictModes wants. The
/// path's `%h` and `%u` (validated by the planner) are expanded by the script itself.
pub(super) const INSTALL_SCRIPT: &str = r#"set -e
IFS= read -r u; IFS= read -r f
h=$(getent passwd "$u" | cut -d: -f6); [ -n "$h" ] || { echo "no such user $u" >&2; exit 3; }
f=$(printf '%s\n' "$f" | sed -e "s|%h|$h|g" -e "s|%u|$u|g")
d=$(dirname -- "$f"); umask 077; mkdir -p -- "$d"; touch -- "$f"
while IFS= read -r l; do [ -z "$l" ] || grep -qxF -- "$l" "$f" || printf '%s\n' "$l" >> "$f"; done
if [ "$(id -u)" = 0 ]; then chown -- "$u": "$f"; [ "$d" != "$h/.ssh" ] || chown -- "$u": "$d"; fi
chmod 600 -- "$f""#;

/// What [`INSTALL_SCRIPT`] reads: the user, the file, then the key lines.
pub(super) fn install_input(user: &str, file: &str, lines: &[String]) -> String {
    let mut input = format!("{user}\n{file}\n");
    for l in lines {
        input.push_str(l);
        input.push('\n');
    }
    input
}

/// Installs the matrix keys of each user of a remote target through the admin key.
#[allow(clippy::too_many_arguments)]
pub(super) async fn deploy_keys(
    id: &str,
    r: &crate::matrix::Remote,
    d: &crate::matrix::Deploy,
    users: &[String],
    plan: &Plan,
    ti: usize,
    keys: &Keys,
    timeout: Duration,
) -> Result<(), RunError> {
    let env =
        |m: String| RunError::Environment(format!("remote target `{id}`: deploying keys: {m}"));
    let text = std::fs::read_to_string(&d.key)
        .map_err(|e| env(format!("admin key {}: {e}", d.key.display())))?;
    let pass = crate::grants::env_secret(crate::grants::DEPLOY_PASSPHRASE);
    let admin = Arc::new(
        load_key(&text, &sshmatrix_clients::Container::ALL, pass.as_deref())
            .map_err(|e| env(format!("admin key {}: {e}", d.key.display())))?,
    );
    for user in users {
        let lines = authorized_lines(plan, keys, TargetId(ti), Some(user));
        let stream = connect_remote(r, timeout).await.map_err(env)?;
        let input = install_input(user, &d.file, &lines);
        let (status, out) = tokio::time::timeout(
            timeout,
            emulator::exec_with_key(
                stream,
                &d.user,
                admin.clone(),
                &r.host_key,
                &format!(
                    "sh -c {}",
                    sshmatrix_clients::driver::sh_quote(INSTALL_SCRIPT)
                ),
                input.as_bytes(),
            ),
        )
        .await
        .map_err(|_| env("timed out".into()))?
        .map_err(env)?;
        if status != 0 {
            return Err(env(format!(
                "installing for {user} exited {status}: {}",
                out.trim()
            )));
        }
    }
    Ok(())
}

/// What a cell hands the remote host: its key (key-file and agent cells) or the password the
/// user granted (password cells, and targets whose scenario logs in by password).
fn remote_credential(
    shared: &Shared,
    cell: &Cell,
    r: &crate::matrix::Remote,
) -> Result<Option<String>, Box<ClientOutcome>> {
    let target = &shared.plan.targets[cell.target];
    let by_password = cell.holder == Holder::Password || target.scenario.method == Method::Password;
    if !by_password {
        return Ok(None);
    }
    match r.password.as_ref().and_then(crate::grants::Secret::read) {
        Some(p) => Ok(Some(p)),
        None => Err(Box::new(ClientOutcome::new(
            emulator::Verdict::Error,
            emulator::Stage::Auth,
            format!(
                "no password: pass --password {}=env:VARIABLE (or file:PATH), and set it",
                target.id
            ),
        ))),
    }
}

/// One cell against a remote target, within its account's failed-login budget: a failure is
/// reserved before the attempt and kept only when the server refused a credential it saw.
pub(super) async fn run_remote(
    shared: &Shared,
    cell: &Cell,
    r: &crate::matrix::Remote,
    key: Option<Arc<PrivateKey>>,
) -> ClientOutcome {
    let password = match remote_credential(shared, cell, r) {
        Ok(p) => p,
        Err(o) => return *o,
    };
    let reservation = match reserve(shared, cell, r).await {
        Ok(res) => res,
        Err(spent) => return deferred(cell, r, spent.failed),
    };
    let stream = match connect_remote(r, shared.timeout).await {
        Ok(s) => s,
        Err(e) => {
            settle(shared, reservation, false);
            return ClientOutcome::new(emulator::Verdict::Fail, emulator::Stage::Connect, e);
        }
    };
    let attempt = Attempt {
        profile: &cell.client,
        server: &shared.targets[cell.target].hello,
        key,
        user: &cell.user,
        timeout: shared.timeout,
        known_host_key: None,
        host_key_pin: Some(r.host_key.clone()),
        other_keys_first: Vec::new(),
        password,
        agent: cell
            .holder
            .uses_agent()
            .then(|| shared.client.agents.get(&key_id(cell)).cloned())
            .flatten(),
        // `check` keeps certificate cells off remote targets.
        certificate: None,
    };
    let o = emulator::attempt(attempt, stream).await;
    // Only a credential the server saw and refused counts against the account (a method it did
    // not offer, or a key the client did not send, is no failed login).
    let failed = o.verdict == emulator::Verdict::Fail
        && o.stage == emulator::Stage::Auth
        && o.signature.is_some();
    settle(shared, reservation, failed);
    o
}

/// A failure reserved for the cell's attempt. While only attempts under way hold the budget,
/// the cell waits for one of them to settle (the cell's own timeout bounds the wait); once
/// failures alone spend it, the cell is deferred.
async fn reserve(
    shared: &Shared,
    cell: &Cell,
    r: &crate::matrix::Remote,
) -> Result<super::budget::Reservation, Spent> {
    loop {
        let settled = shared.budget_settled.notified();
        let window = r.budget_window_secs;
        match shared
            .budget
            .reserve(&r.host, r.port, &cell.user, window, r.auth_budget)
        {
            Ok(res) => return Ok(res),
            Err(spent) if spent.by_failures(r.auth_budget) => return Err(spent),
            // Another process's attempt may settle without telling this one: look again soon.
            Err(_) => {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), settled).await;
            }
        }
    }
}

/// Settles a cell's reservation and wakes the cells waiting for budget.
fn settle(shared: &Shared, reservation: super::budget::Reservation, failed: bool) {
    shared.budget.settle(reservation, failed);
    shared.budget_settled.notify_waiters();
}

/// A cell not tried: the account's budget is spent in the window.
fn deferred(cell: &Cell, r: &crate::matrix::Remote, spent: usize) -> ClientOutcome {
    ClientOutcome::new(
        emulator::Verdict::Error,
        emulator::Stage::Auth,
        format!(
            "deferred: {spent} failed logins for {}@{}:{} in the last {} s spend its budget of {} (faillock); rerun later or raise auth_budget",
            cell.user, r.host, r.port, r.budget_window_secs, r.auth_budget
        ),
    )
    .with_code(sshmatrix_reports::Code::AuthBudgetExhausted)
}
