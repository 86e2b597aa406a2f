//! Cells whose target sits behind a jump host: the jump host logged in to with the cell's
//! credential, then the target reached through a tunnel (ProxyJump) or by the jump host's own
//! client with the forwarded agent.

use std::time::Duration;

use sshmatrix_clients::emulator::{self, Attempt, ClientOutcome};

use super::Shared;
use crate::matrix::{Cell, TargetId};

/// The name a jump host is entered as: its first matrix user in a container, else the OS user.
pub(super) fn jump_login(shared: &Shared, vi: TargetId) -> &str {
    let t = &shared.plan.targets[vi];
    match (t.image(), t.users.first()) {
        (Some(_), Some(u)) => u,
        _ => &shared.login,
    }
}

/// The outcome of a forwarded-agent cell: the jump host's own ssh logged in to the target
/// (the target's log says so), was refused forwarding, or was refused by the target.
pub(super) fn forwarded_outcome(jump: &str, f: &emulator::Forwarded, log_c: &str) -> ClientOutcome {
    let last = f
        .output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.contains("/dev/null"))
        .unwrap_or("")
        .trim()
        .to_string();
    let accepted = sshmatrix_servers::analyse(log_c).accepted;
    if accepted && f.exit_status == Some(0) {
        ClientOutcome::new(
            emulator::Verdict::Ok,
            emulator::Stage::Login,
            format!(
                "logged in from jump host `{}` by its ssh with the forwarded agent ({} agent channel(s))",
                jump, f.agent_channels
            ),
        )
    } else if !f.forwarding_accepted {
        ClientOutcome::new(
            emulator::Verdict::Fail,
            emulator::Stage::Auth,
            format!(
                "agent forwarding refused by jump host `{}` (its ssh found no key): {last}",
                jump
            ),
        )
        .with_code(sshmatrix_reports::Code::AgentForwardingRefused)
    } else {
        ClientOutcome::new(
            emulator::Verdict::Fail,
            emulator::Stage::Auth,
            format!(
                "jump host `{}`'s ssh with the forwarded agent ({} agent channel(s)): {last}",
                jump, f.agent_channels
            ),
        )
    }
}

/// Logs in to jump host `vi` with the cell's credential; the refusal (stage `jump`, unless it
/// is a timeout or an emulation limit) when the jump host does not let the client in.
pub(super) async fn login_to_jump(
    shared: &Shared,
    attempt: &Attempt<'_>,
    vi: TargetId,
    stream: sshmatrix_servers::ServerStream,
) -> Result<emulator::Session, ClientOutcome> {
    let to_b = Attempt {
        profile: attempt.profile,
        server: &shared.targets[vi].hello,
        key: attempt.key.clone(),
        user: jump_login(shared, vi),
        timeout: attempt.timeout,
        known_host_key: None,
        host_key_pin: None,
        other_keys_first: Vec::new(),
        password: attempt.password.clone(),
        agent: attempt.agent.clone(),
        // `check` keeps certificate cells off jump hosts.
        certificate: None,
    };
    let (out_b, sess) = emulator::login(to_b, stream).await;
    match sess {
        Some(s) if out_b.verdict == emulator::Verdict::Ok => Ok(s),
        other => {
            if let Some(s) = other {
                s.close().await;
            }
            let mut o = out_b;
            o.reason = format!("jump host `{}`: {}", shared.plan.targets[vi].id, o.reason);
            if !matches!(
                o.stage,
                emulator::Stage::Emulation | emulator::Stage::Timeout
            ) {
                // Whatever refused the login at B, the cell's cause is the jump host.
                o.verdict = emulator::Verdict::Fail;
                o.stage = emulator::Stage::Jump;
                o.code = Some(sshmatrix_reports::Code::JumpHostRefused);
            }
            Err(o)
        }
    }
}

/// A cell whose target sits behind a jump host: log in to the jump host B with the cell's
/// credential, then either tunnel to the target C (direct-tcpip, as ProxyJump) and log in
/// there through the tunnel, or — agent forwarded — run B's own `ssh` to C with the forwarded
/// agent. C's sshd -i is served on a one-shot 127.0.0.1 port; both servers' logs are kept.
pub(super) async fn run_via(
    shared: &Shared,
    cell: &Cell,
    attempt: Attempt<'_>,
    vi: TargetId,
) -> (ClientOutcome, Option<String>) {
    let error = |stage, reason: String| {
        (
            ClientOutcome::new(emulator::Verdict::Error, stage, reason),
            None,
        )
    };
    let jump = &shared.plan.targets[vi];
    let log_c = shared.client.logs.join(format!("cell-{}.log", cell.index));
    let relay = match shared.targets[cell.target]
        .server
        .serve(&log_c, shared.timeout)
        .await
    {
        Ok(r) => r,
        Err(e) => return error(emulator::Stage::Connect, format!("cannot open a port: {e}")),
    };
    let (stream_b, session_b) = match shared.targets[vi].server.connect(shared.timeout).await {
        Ok(x) => x,
        Err(e) => return error(emulator::Stage::Connect, format!("cannot start sshd: {e}")),
    };
    let sess = match login_to_jump(shared, &attempt, vi, stream_b).await {
        Ok(s) => s,
        Err(refused) => {
            let log_b = session_b.finish(Duration::from_secs(3)).await;
            return (refused, Some(log_b));
        }
    };
    let outcome = if cell.holder == crate::matrix::Holder::AgentForwarded {
        let command = super::drivers::second_hop_command(relay.port(), shared.login_for(cell));
        let f = sess.forward_agent_and_exec(&command).await;
        sess.close().await;
        let away = relay.turned_away();
        relay.finish(Duration::from_secs(5)).await;
        let log_c = std::fs::read_to_string(&log_c).unwrap_or_default();
        let _ = session_b.finish(Duration::from_secs(3)).await;
        let f = match f {
            Ok(f) => f,
            Err(e) => {
                return error(
                    emulator::Stage::Auth,
                    format!("on jump host `{}`: {e}", jump.id),
                )
            }
        };
        let mut o = forwarded_outcome(&jump.id, &f, &log_c);
        o.notes.extend(away);
        return (o, Some(log_c));
    } else {
        match sess.tunnel(relay.port()).await {
            Ok(ch) => emulator::attempt(attempt, ch).await,
            Err(e) => ClientOutcome::new(emulator::Verdict::Fail, emulator::Stage::Connect, e),
        }
    };
    sess.close().await;
    let mut outcome = outcome;
    outcome.notes.extend(relay.turned_away());
    relay.finish(Duration::from_secs(5)).await;
    let _ = session_b.finish(Duration::from_secs(3)).await;
    let log_c = std::fs::read_to_string(&log_c).unwrap_or_default();
    (outcome, Some(log_c))
}

/// The jump host of a real-client cell: its sshd -i on a one-shot port, its log, the login.
pub(super) async fn real_jump(
    shared: &Shared,
    cell: &Cell,
    vi: TargetId,
) -> Result<super::drivers::Jump, ClientOutcome> {
    let jlog = shared
        .client
        .logs
        .join(format!("cell-{}-jump.log", cell.index));
    let server = shared.targets[vi]
        .server
        .serve(&jlog, shared.timeout)
        .await
        .map_err(|e| {
            ClientOutcome::new(
                emulator::Verdict::Error,
                emulator::Stage::Connect,
                format!("cannot open a port for the jump host: {e}"),
            )
        })?;
    Ok(super::drivers::Jump {
        server,
        login: jump_login(shared, vi).to_string(),
        log: jlog,
        forward: cell.holder == crate::matrix::Holder::AgentForwarded,
        host_key_pubs: shared.targets[vi].host_key_pubs.clone(),
    })
}
