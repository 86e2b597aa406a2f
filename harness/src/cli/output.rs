//! Report destinations, opened and checked before any cell runs, and the rescue file that keeps
//! a finished report when its destination fails at the end.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Where a rendered report goes: standard output or a file opened up front.
pub enum Destination {
    /// Standard output.
    Stdout,
    /// A file, open for writing (not yet truncated: an earlier report survives a failed run).
    File {
        /// Its path, for messages.
        path: PathBuf,
        /// The open file.
        file: File,
        /// Whether it is a regular file (truncated before writing).
        regular: bool,
        /// Whether this run created it (removed again when nothing is written).
        created: bool,
    },
}

/// Opens `path` for writing and checks that it takes data: a directory, a path that cannot be
/// created, or a device that refuses writes (/dev/full) is an error naming the path and cause.
fn open_checked(path: &Path, append: bool) -> Result<(File, bool, bool), String> {
    let existed = path.symlink_metadata().is_ok();
    let file = sshmatrix_core::fsx::open_for_writing(path, append)
        .map_err(|e| format!("{}: cannot open for writing: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let kind = meta.file_type();
    if kind.is_char_device() && !file.is_terminal() {
        // A device: one newline shows whether it takes data (/dev/full does not).
        (&file)
            .write_all(b"\n")
            .map_err(|e| format!("{}: does not take writes: {e}", path.display()))?;
    }
    Ok((file, kind.is_file(), !existed))
}

impl Destination {
    /// Standard output for `None`, else the file, opened and checked now.
    pub fn open(path: Option<&Path>) -> Result<Self, String> {
        let Some(path) = path else {
            return Ok(Destination::Stdout);
        };
        let (file, regular, created) = open_checked(path, false)?;
        Ok(Destination::File {
            path: path.to_path_buf(),
            file,
            regular,
            created,
        })
    }

    /// Writes the whole text (replacing what a regular file held). A reader that closes standard
    /// output early (`| head`) is no error: nothing is rescued, nothing is said.
    pub fn write(self, text: &str) -> Result<(), String> {
        match self {
            Destination::Stdout => {
                let mut out = std::io::stdout().lock();
                match out
                    .write_all(super::common::for_stdout(text).as_bytes())
                    .and_then(|()| out.flush())
                {
                    // The reader stopped reading (`| head`): it has what it wanted.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                    r => r.map_err(|e| format!("standard output: {e}")),
                }
            }
            Destination::File {
                path,
                mut file,
                regular,
                ..
            } => {
                let fail = |e: std::io::Error| format!("{}: cannot write: {e}", path.display());
                if regular {
                    file.set_len(0).map_err(fail)?;
                }
                file.write_all(text.as_bytes()).map_err(fail)?;
                file.sync_all()
                    .or_else(|e| if regular { Err(e) } else { Ok(()) })
                    .map_err(fail)
            }
        }
    }

    /// Removes a file this run created but never wrote (the run failed before its report).
    pub fn discard(self) {
        if let Destination::File {
            path,
            created: true,
            regular: true,
            ..
        } = self
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Checks a result stream destination before any cell runs (opened for appending, as the
/// runner will).
pub fn check_stream(path: &Path) -> Result<(), String> {
    open_checked(path, true).map(|_| ())
}

/// Cuts a stream back to `len` bytes (dropping a line a kill cut short).
pub fn cut_stream(path: &Path, len: u64) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(len))
        .map_err(|e| {
            format!(
                "{}: cannot drop the cut-short last line: {e}",
                path.display()
            )
        })
}

/// Saves a report whose destination failed under `work_dir/rescued/`; returns the file.
pub fn rescue(work_dir: &Path, json: &str) -> Result<PathBuf, String> {
    let dir = work_dir.join("rescued");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let path = dir.join(format!("report-{stamp}-{}.json", std::process::id()));
    sshmatrix_core::fsx::private_dir(&dir)
        .and_then(|()| sshmatrix_clients::factory::write_private(&path, json.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
