//! `sshmatrix bench --real`: both runs of the same real-client cells happen and agree on what
//! logged in (the figures themselves are for people, never asserted).

mod common;

fn bench(matrix: &std::path::Path) -> (i32, String, String) {
    common::sshmatrix_work(&["bench", "--real", "--jobs", "2", matrix.to_str().unwrap()])
}

#[test]
fn real_cells_run_by_sshmatrix_and_by_a_plain_loop() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix_file(
        dir.path(),
        "real.toml",
        r#"title = "bench"
[axes]
keys = ["ed25519", "rsa-2048"]
passphrase = ["no"]
pairs = [
  { client = "real-openssh-9.2", key_tool = "ssh-keygen" },
  { client = "real-putty-0.78", key_tool = "puttygen-0.78" },
  { client = "teraterm-4.106", key_tool = "ssh-keygen" },
]
[[targets]]
id = "t"
policy = "rhel9-default"
users = ["u"]
"#,
    );
    let (code, out, err) = bench(&m);
    assert_eq!(code, 0, "{err}");
    // Only the four real-client cells are timed; each logs in both ways.
    assert!(out.contains("real-client cells:    4 (2 at once)"), "{out}");
    assert!(out.contains("ok 4 fail 0 error 0"), "{out}");
    assert!(out.contains("client exit 0: 4, other: 0"), "{out}");
    assert!(out.contains("ratio loop/sshmatrix: "), "{out}");
    // A matrix without real clients has nothing to compare.
    std::fs::write(
        &m,
        std::fs::read_to_string(&m)
            .unwrap()
            .replace("real-openssh-9.2", "openssh-9.2")
            .replace("real-putty-0.78", "putty-0.78"),
    )
    .unwrap();
    let (code, _, err) = bench(&m);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no real-client cell"), "{err}");
}
