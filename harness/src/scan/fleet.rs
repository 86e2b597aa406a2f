//! The summary of a fleet scan: for each client and key type, on how many of the hosts it
//! would be locked out and why (the codes, each with its hosts), most locked out first.

use std::collections::BTreeMap;

use sshmatrix_reports::{CellResult, Verdict};

/// One line per client and key type that some host refuses, e.g. `teraterm-4.106 rsa-2048:
/// locked out on 2 of 3 hosts — auth-signature-rejected: 10.0.0.5:22, 10.0.0.6:22`; cells no
/// scan can decide (`?`) are counted apart. `hosts` is the number of hosts scanned.
pub fn lockouts(cells: &[CellResult], hosts: usize) -> Vec<String> {
    type Key<'a> = (&'a str, String);
    let mut by: BTreeMap<Key, (BTreeMap<String, Vec<&str>>, usize)> = BTreeMap::new();
    for c in cells {
        let entry = by.entry((c.client.as_str(), c.key_spec())).or_default();
        match (c.verdict, c.mark()) {
            (_, "?") => entry.1 += 1,
            (Verdict::Fail, _) => entry
                .0
                .entry(c.code.to_string())
                .or_default()
                .push(&c.target),
            _ => {}
        }
    }
    let mut lines: Vec<(usize, String)> = by
        .into_iter()
        .filter(|(_, (codes, _))| !codes.is_empty())
        .map(|((client, key), (codes, undecided))| {
            let mut locked: Vec<&str> = codes.values().flatten().copied().collect();
            locked.sort_unstable();
            locked.dedup();
            let why: Vec<String> = codes
                .iter()
                .map(|(code, on)| format!("{code}: {}", on.join(", ")))
                .collect();
            let open = match undecided {
                0 => String::new(),
                n => format!("; undecided on {n}"),
            };
            let n = locked.len();
            let line = format!(
                "{client} {key}: locked out on {n} of {hosts} hosts — {}{open}",
                why.join("; ")
            );
            (n, line)
        })
        .collect();
    lines.sort_by_key(|l| std::cmp::Reverse(l.0));
    lines.into_iter().map(|(_, l)| l).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sshmatrix_reports::Code;

    fn cell(client: &str, target: &str, code: Option<Code>) -> CellResult {
        let mut c: CellResult = serde_json::from_value(serde_json::json!({
            "index": 0, "client": client, "key_tool": "t", "key_type": "rsa", "key_bits": 2048,
            "passphrase": false, "key_format": "pem", "key_fingerprint": "", "target": target,
            "policy": "p", "user": "u", "verdict": "ok", "stage": "login", "reason": "",
            "client_reason": "", "server_reason": null, "server_evidence": [], "kex": null,
            "hostkey": null, "cipher": null, "mac": null, "signature": null, "duration_ms": 0,
            "notes": [], "row": [], "column": []
        }))
        .unwrap();
        if let Some(code) = code {
            c.verdict = Verdict::Fail;
            c.code = code.into();
        }
        c
    }

    #[test]
    fn each_client_and_key_says_where_it_is_locked_out() {
        let sig = Some(Code::AuthSignatureRejected);
        let cells = [
            cell("teraterm-4.106", "a:22", sig),
            cell("teraterm-4.106", "b:22", sig),
            cell("teraterm-4.106", "c:22", None),
            cell("putty-0.83", "a:22", None),
            cell("putty-0.70", "b:22", Some(Code::KexNoCommon)),
        ];
        let lines = lockouts(&cells, 3);
        assert_eq!(
            lines,
            vec![
                "teraterm-4.106 rsa-2048: locked out on 2 of 3 hosts — auth-signature-rejected: a:22, b:22",
                "putty-0.70 rsa-2048: locked out on 1 of 3 hosts — kex-no-common: b:22",
            ]
        );
    }
}
