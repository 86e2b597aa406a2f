//! Cell digests: a hash of everything that decides a cell's verdict — the client profile's and
//! key tool's content, the key spec, passphrase, holder and user, and the target's policy
//! content, extra sshd lines, scenario, image or remote host and jump host (recursively). A
//! result stored in a stream or report is reused (`--resume`) or merged only for a cell with
//! the same identity *and* digest, so a changed matrix never keeps a stale verdict.

use std::collections::HashMap;

use sha2::{Digest as _, Sha256};

use crate::matrix::{Cell, Plan, Target};

/// A cell digest (the first 16 bytes of a SHA-256).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Digest(pub [u8; 16]);

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// The verdict-deciding content of a target (its label is presentation only).
fn target_hash(plan: &Plan, t: &Target, depth: usize) -> [u8; 32] {
    let via = match t.via {
        Some(v) if depth < 4 => target_hash(plan, &plan.targets[v], depth + 1),
        _ => [0; 32],
    };
    let own = format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        t.id,
        t.policy,
        t.host_keys,
        t.sshd,
        t.scenario,
        t.remote(),
        t.image().map(|i| (&i.name, i.tag())),
        t.users.first()
    );
    hash(&[own.as_bytes(), &via])
}

/// Sets every cell's digest (profiles, tools and targets hashed once each).
pub fn stamp(plan: &mut Plan) {
    let targets: Vec<[u8; 32]> = plan
        .targets
        .iter()
        .map(|t| target_hash(plan, t, 0))
        .collect();
    let mut profiles: HashMap<String, [u8; 32]> = HashMap::new();
    let mut tools: HashMap<String, [u8; 32]> = HashMap::new();
    let log_level = format!("{:?}", plan.run.server_log_level);
    for c in &mut plan.cells {
        let p = *profiles
            .entry(c.client.id.clone())
            .or_insert_with(|| hash(&[format!("{:?}", c.client).as_bytes()]));
        let k = *tools
            .entry(c.key_tool.id.clone())
            .or_insert_with(|| hash(&[format!("{:?}", c.key_tool).as_bytes()]));
        c.digest = cell_digest(c, &p, &k, &targets[c.target], &log_level);
    }
}

fn cell_digest(c: &Cell, p: &[u8], k: &[u8], t: &[u8], log_level: &str) -> Digest {
    let mut spec = format!(
        "{}|{}|{}|{}|{log_level}",
        c.key,
        c.passphrase,
        c.holder.as_str(),
        c.user
    );
    // Only certificate cells carry it, so every bare-key digest stays what it was.
    if let Some(cert) = c.certificate {
        spec.push_str(&format!("|cert={cert}"));
    }
    let full = hash(&[p, k, t, spec.as_bytes()]);
    let mut d = [0; 16];
    d.copy_from_slice(&full[..16]);
    Digest(d)
}

/// The digest of a whole plan: of its cells' digests in plan order. Shards of one matrix
/// share it; `merge` refuses reports whose plan digests differ.
pub fn plan_digest(plan: &Plan) -> String {
    let mut h = Sha256::new();
    for c in &plan.cells {
        h.update(c.digest.0);
    }
    hex::encode(&h.finalize()[..16])
}
