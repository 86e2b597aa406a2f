//! The run's certificates: one certificate authority per run (its keys in the run's private
//! directory, gone with it), every certificate cell's key signed by it with the real
//! `ssh-keygen -s`, and the host keys of targets whose scenario asks for host certificates
//! (`ssh-keygen -s -h`), with the known_hosts file that trusts their CA.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sshmatrix_clients::certs::{Authority, CaKind};
use sshmatrix_clients::CertSpec;

use super::keys::{key_id, KeyId, Keys};
use crate::error::RunError;
use crate::matrix::Plan;

/// The certificates of a run.
#[derive(Debug, Default)]
pub struct Certificates {
    /// The CA public key lines every OpenSSH target trusts (`TrustedUserCAKeys`); empty when
    /// no cell presents a certificate.
    pub trusted: Vec<String>,
    /// Each certificate file, by the key it certifies and the certificate's spec.
    files: HashMap<(KeyId, CertSpec), PathBuf>,
    /// The host certificates of targets that present them, by target index.
    hosts: HashMap<usize, HostCertificates>,
}

/// What a target presenting host certificates needs, and what its clients trust.
#[derive(Debug, Clone)]
pub struct HostCertificates {
    /// One certificate line per host key type of the target, in its order.
    pub lines: Vec<String>,
    /// A known_hosts file holding only `@cert-authority * CA` for the certificate's CA.
    pub known_hosts: PathBuf,
}

/// The names a host certificate lists: every name clients reach a target by.
const HOST_PRINCIPALS: [&str; 3] = ["127.0.0.1", "localhost", "sshmatrix-target"];

impl Certificates {
    /// The host certificates of target `ti`, when its scenario asks for them.
    pub fn host(&self, ti: usize) -> Option<&HostCertificates> {
        self.hosts.get(&ti)
    }

    /// The certificate file a cell presents (`None` for a bare-key cell).
    pub fn of(&self, cell: &crate::matrix::Cell) -> Option<&Path> {
        let spec = cell.certificate?;
        self.files.get(&(key_id(cell), spec)).map(PathBuf::as_path)
    }
}

/// Makes the plan's CA keys and certificates under `run_dir/ca`; `login` (the account local
/// targets log in as) is a principal of every valid certificate beside the matrix users.
pub fn make(
    plan: &Plan,
    keys: &Keys,
    run_dir: &Path,
    login: &str,
) -> Result<Certificates, RunError> {
    let mut out = Certificates::default();
    let wanted: Vec<_> = plan
        .cells
        .iter()
        .filter(|c| c.certificate.is_some())
        .collect();
    if wanted.is_empty() {
        return Ok(out);
    }
    let authority = Authority::new(&run_dir.join("ca"), Path::new("ssh-keygen")).map_err(env)?;
    let mut principals: Vec<String> = plan.targets.iter().flat_map(|t| t.users.clone()).collect();
    principals.push(login.to_string());
    principals.sort();
    principals.dedup();
    let mut cas: Vec<CaKind> = Vec::new();
    for cell in wanted {
        let spec = cell.certificate.expect("filtered");
        let id = key_id(cell);
        if out.files.contains_key(&(id.clone(), spec)) {
            continue;
        }
        let key = &keys[&id];
        let name = format!("{}_{}_{}_{spec}", id.key, id.tool, id.passphrase);
        let file = authority
            .sign(&key.public_line, spec, &name, &principals, false)
            .map_err(env)?;
        out.files.insert((id, spec), file);
        if !cas.contains(&spec.ca) {
            cas.push(spec.ca);
        }
    }
    cas.sort();
    out.trusted = authority.trusted_lines(&cas).map_err(env)?;
    Ok(out)
}

/// Signs the host keys of every target whose scenario asks for host certificates, and writes
/// the known_hosts file its clients trust (0600, in the run's `ca` directory).
pub fn make_hosts(
    plan: &Plan,
    host_keys: &sshmatrix_servers::HostKeyStore,
    run_dir: &Path,
    certs: &mut Certificates,
) -> Result<(), RunError> {
    let principals: Vec<String> = HOST_PRINCIPALS.iter().map(|s| s.to_string()).collect();
    let mut authority = None;
    for (ti, t) in plan.targets.iter().enumerate() {
        let Some(spec) = t.scenario.host_cert() else {
            continue;
        };
        let authority = match &mut authority {
            Some(a) => a,
            None => authority
                .insert(Authority::new(&run_dir.join("ca"), Path::new("ssh-keygen")).map_err(env)?),
        };
        let mut lines = Vec::new();
        for kind in &t.host_keys {
            let private = host_keys
                .get(kind)
                .map_err(|e| RunError::Environment(e.to_string()))?;
            let public = std::fs::read_to_string(format!("{}.pub", private.display()))
                .map_err(|e| RunError::Environment(format!("host key {kind}: {e}")))?;
            let name = format!("host-{ti}-{kind}-{spec}");
            let file = authority
                .sign(public.trim(), spec, &name, &principals, true)
                .map_err(env)?;
            let cert = std::fs::read_to_string(&file)
                .map_err(|e| RunError::Environment(format!("{}: {e}", file.display())))?;
            lines.push(cert.trim().to_string());
        }
        let line = authority.known_hosts_line(spec.ca).map_err(env)?;
        let known_hosts = super::files::write_private_file(
            &run_dir.join("ca"),
            &format!("known-hosts-{ti}"),
            &format!("{line}\n"),
            0o600,
        )?;
        certs
            .hosts
            .insert(ti, HostCertificates { lines, known_hosts });
    }
    Ok(())
}

fn env(e: sshmatrix_clients::certs::CertError) -> RunError {
    RunError::Environment(format!("certificates: {e}"))
}
