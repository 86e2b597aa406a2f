//! A cell's result: its identity before anything is known, then its verdict from the client's
//! outcome and both sides' evidence — the one place a verdict is decided — and the reports
//! built from results.

use sshmatrix_clients::emulator::{self, ClientOutcome};
use sshmatrix_clients::Profile;
use sshmatrix_reports::{CellResult, Report, Verdict};
use sshmatrix_servers::analyse;

use super::Shared;
use crate::matrix::{Cell, Plan};

/// Why a cell abandoned by a second signal has no verdict.
pub(super) const ABANDONED: &str =
    "abandoned in flight by a second stop signal; not measured (--resume runs it)";
/// Why a cell in flight at a stop signal that did not log in has no verdict.
pub(super) const CUT_SHORT: &str = "in flight when a signal stopped the run and not logged in: not recorded as a verdict (--resume runs it)";

/// A cell cut short by a stop: not measured, so no verdict (and never in the stream).
pub(super) fn interrupted(shared: &Shared, i: usize, why: &str) -> CellResult {
    let mut r = blank_result(&shared.plan, &shared.plan.cells[i]);
    r.verdict = Verdict::Interrupted;
    r.stage = sshmatrix_reports::Stage::Interrupted;
    r.reason = why.into();
    r
}

/// A cell's result before anything is known: identity, key file format and labels.
pub fn blank_result(plan: &Plan, cell: &Cell) -> CellResult {
    let target = &plan.targets[cell.target];
    CellResult {
        index: cell.index,
        client: cell.client.id.clone(),
        key_tool: cell.key_tool.id.clone(),
        key_type: cell.key.family().to_string(),
        key_bits: cell.key.bits(),
        passphrase: cell.passphrase,
        holder: cell.holder,
        certificate: cell.certificate.map(|c| c.to_string()).unwrap_or_default(),
        key_format: cell
            .key_tool
            .format_for(&cell.key)
            .describe(cell.passphrase),
        key_fingerprint: String::new(),
        target: target.id.clone(),
        policy: target.policy.id.clone(),
        user: cell.user.clone(),
        verdict: Verdict::Error,
        code: Default::default(),
        stage: sshmatrix_reports::Stage::Connect,
        reason: String::new(),
        client_reason: String::new(),
        server_reason: None,
        server_evidence: Vec::new(),
        kex: None,
        hostkey: None,
        cipher: None,
        mac: None,
        signature: None,
        duration_ms: 0,
        notes: Vec::new(),
        predicted_verdict: None,
        predicted_code: None,
        advice: Vec::new(),
        digest: cell.digest.to_string(),
        weak: Vec::new(),
        strict_kex: None,
        row: cell.row.clone(),
        column: cell.column.clone(),
    }
}

/// The one signature a client makes with an RSA key whatever a server lists (its profile's
/// `ssh-rsa-only` rule, measured for every real client by `verify-profiles` and `record`),
/// for a real client that does not say how it signed.
fn fixed_rsa_signature(client: &Profile, result: &CellResult) -> Option<&'static str> {
    use sshmatrix_clients::profile::RsaSignatureMode;
    (result.key_type == "rsa" && client.auth.rsa.mode == RsaSignatureMode::SshRsaOnly)
        .then_some("ssh-rsa")
}

/// Dropbear and TinySSH refuse a signature algorithm they do not verify without logging why
/// (Dropbear: only how the connection ended; TinySSH: nothing). When the client's own record
/// shows it signed with one the policy data lists as unverified — or, for a real client that
/// does not say how it signed, when the server verifies no algorithm of the key's family at
/// all — the refusal is `auth-signature-rejected`, saying so. The data is held equal to the
/// real servers by a test.
fn unlisted_signature(t: &crate::matrix::Target, result: &mut CellResult, fixed: Option<&str>) {
    let Some(d) = &t.policy.facts else { return };
    let accepted = &d.pubkey_algorithms;
    let unverified = match result.signature.as_deref().or(fixed) {
        Some(sig) => (!accepted.iter().any(|a| a == sig)).then(|| format!("{sig} signatures")),
        None => {
            let family = crate::predict::family_algorithms(&result.key_type, result.key_bits);
            (!family.iter().any(|a| accepted.iter().any(|x| x == a)))
                .then(|| format!("{} keys", result.key_type.to_uppercase()))
        }
    };
    let Some(what) =
        unverified.filter(|_| result.code == sshmatrix_reports::Code::AuthKeyNotAuthorized)
    else {
        return;
    };
    let server = match &result.server_reason {
        Some(r) => format!("server: {r}"),
        None => "its log says nothing of it".into(),
    };
    result.code = sshmatrix_reports::Code::AuthSignatureRejected.into();
    result.reason = format!(
        "{} does not verify {what} (it verifies {}); {server}",
        t.policy.server_release(),
        accepted.join(","),
    );
}

/// A connection the server's listener dropped (PerSourcePenalties): refused at the connect
/// stage, whatever the client made of the closed connection (ssh and plink see it close before
/// the identification, the emulator as an engine error).
fn penalised(outcome: &mut ClientOutcome, view: &sshmatrix_servers::ServerView) {
    let dropped = view
        .reason
        .as_deref()
        .is_some_and(|r| r.starts_with("drop connection #"));
    if dropped && outcome.verdict != emulator::Verdict::Ok {
        outcome.verdict = emulator::Verdict::Fail;
        outcome.stage = emulator::Stage::Connect;
    }
}

/// The one place a cell's verdict is decided: the client's outcome and the server's log (both
/// sides' evidence) give the verdict, stage, code, reasons, negotiated algorithms and notes;
/// what the log shows of the server itself (another local user's connection, a configuration
/// it could not use) overrides them; and for a server that logs no reason (Dropbear, TinySSH)
/// its policy data names a signature it does not verify.
pub(super) fn judge(
    result: &mut CellResult,
    target: &crate::matrix::Target,
    client: &Profile,
    outcome: ClientOutcome,
    log: Option<String>,
) {
    let view = log.as_deref().map(analyse).unwrap_or_default();
    let mut outcome = outcome;
    penalised(&mut outcome, &view);
    result.verdict = outcome.verdict;
    result.stage = outcome.stage;
    result.code = crate::diagnose::code(&outcome, &view).into();
    result.client_reason = outcome.reason.clone();
    result.server_reason = view.reason.clone();
    result.reason = match (&result.verdict, &view.reason) {
        (Verdict::Ok, _) | (_, None) => outcome.reason.clone(),
        // The engine stopped itself: the server only saw the client leave.
        (_, Some(_)) if outcome.stage == emulator::Stage::Emulation => outcome.reason.clone(),
        (_, Some(s)) if outcome.stage == emulator::Stage::Jump => {
            format!("jump host's server: {s}")
        }
        (_, Some(s)) => format!("server: {s}"),
    };
    result.server_evidence = view.evidence;
    if let Some(n) = &outcome.negotiated {
        result.kex = Some(n.kex.clone());
        result.hostkey = Some(n.hostkey.clone());
        result.cipher = Some(n.cipher.clone());
        result.mac = Some(n.mac.clone().unwrap_or_else(|| "implicit".into()));
    }
    result.signature = outcome.signature.or_else(|| {
        log.as_deref()
            .and_then(sshmatrix_servers::log::emulated_signature)
    });
    result.notes = outcome.notes;
    if outcome.verdict == emulator::Verdict::Ok && !view.accepted && log.is_some() {
        result
            .notes
            .push("client saw success but the server log has no Accepted line".into());
    }
    if let Some(text) = log.as_deref() {
        server_overrides(result, text);
    }
    let fixed = fixed_rsa_signature(client, result);
    unlisted_signature(target, result, fixed);
    result.apply_weak_rules();
}

/// What the server's log says of the server itself, which no client caused: connections
/// turned away (a note), another local user's connection to the cell's own server (the log
/// is no longer the cell's), or a configuration it could not use.
fn server_overrides(result: &mut CellResult, log: &str) {
    result
        .notes
        .extend(sshmatrix_servers::log::turned_away(log));
    let foreign = sshmatrix_servers::log::foreign_connections(log);
    if foreign > 0 {
        result.verdict = Verdict::Error;
        result.code = sshmatrix_reports::Code::ForeignConnection.into();
        result.reason = format!(
            "no verdict: the cell's server logged {foreign} connection(s) besides the cell's own (another local user connected to its port)"
        );
    }
    if let Some(line) = sshmatrix_servers::log::config_failure(log) {
        if result.verdict != Verdict::Ok {
            result.verdict = Verdict::Error;
            result.code = sshmatrix_reports::Code::ServerConfigError.into();
            result.reason = format!("the server could not use its own configuration: {line}");
        }
    }
}

/// A cell without a verdict in time: what its server had logged by then is kept as evidence
/// (a real client's cell writes its server log to a file as it goes).
pub(super) fn timed_out(shared: &Shared, cell: &Cell, result: &mut CellResult) {
    result.stage = sshmatrix_reports::Stage::Timeout;
    result.code = sshmatrix_reports::Code::Timeout.into();
    result.reason = format!("no verdict within {} s", shared.timeout.as_secs());
    result.client_reason = result.reason.clone();
    let log = shared.client.logs.join(format!("cell-{}.log", cell.index));
    let Ok(text) = std::fs::read_to_string(&log) else {
        return;
    };
    let _ = std::fs::remove_file(&log);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    result.server_evidence = analyse(&text).evidence;
    let last = lines.last().copied().unwrap_or("nothing");
    result.notes.push(format!(
        "the server had logged {} line(s) when the cell ran out of time; the last: {last}",
        lines.len()
    ));
}

/// The report of `cells` of `plan` under `title`, with `notes`.
pub fn report(plan: &Plan, title: String, notes: Vec<String>, cells: Vec<CellResult>) -> Report {
    let mut cells = cells;
    crate::diagnose::across_cells(&mut cells);
    let header = sshmatrix_reports::Header {
        matrix: plan.file.clone(),
        title,
        matrix_digest: crate::matrix::digest::plan_digest(plan),
        plan_cells: plan.cells.len(),
        row_axes: plan.row_axes.clone(),
        column_axes: plan.column_axes.clone(),
        notes,
    };
    let mut report = Report::new(header, cells);
    report.older_clients = crate::scale::older_clients(plan)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    report
}
