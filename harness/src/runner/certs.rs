//! The run's user certificates: one certificate authority per run (its keys in the run's
//! private directory, gone with it), and every certificate cell's key signed by it with the
//! real `ssh-keygen -s`.

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
}

impl Certificates {
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
            .sign(&key.public_line, spec, &name, &principals)
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

fn env(e: sshmatrix_clients::certs::CertError) -> RunError {
    RunError::Environment(format!("user certificates: {e}"))
}
