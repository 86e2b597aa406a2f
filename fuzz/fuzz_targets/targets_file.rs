//! Fuzz target: a fleet scan's targets file (`scan --targets`: a list, an OpenSSH client
//! configuration, a known_hosts file, an Ansible inventory in INI or YAML form) is read without
//! a panic, and every host it gives is a host name and a port — nothing of the file beyond that.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshmatrix::scan::targets::read_groups;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for groups in [&[][..], &["all".to_string()][..], &["web".to_string()][..]] {
        if let Ok(hosts) = read_groups(text, "targets", groups) {
            for (host, port) in &hosts.hosts {
                assert!(!host.is_empty() && *port > 0, "{host:?}:{port}");
                assert!(!host.contains(char::is_whitespace), "{host:?}");
            }
        }
    }
});
