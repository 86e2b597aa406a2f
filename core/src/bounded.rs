//! Every file sshmatrix reads from the user or a peer is read with a size limit and only when it
//! is a regular file (or standard input for `-`): `/dev/zero`, a FIFO or a runaway log never
//! make it read until memory runs out.

use std::io::Read;
use std::path::Path;

/// The largest matrix file or sshd_config read (a 100,000-cell matrix is a few hundred KiB).
pub const MAX_CONFIG: u64 = 16 << 20;
/// The largest JSON report or result stream read (100,000 cells with evidence fit well below).
pub const MAX_REPORT: u64 = 1 << 30;

/// Why an input was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read: {0}")]
    Io(String),
    /// A directory, device or pipe.
    #[error("not a regular file (a directory, device or pipe cannot be read as input)")]
    NotRegular,
    /// Larger than the limit.
    #[error("larger than {0} bytes, more than an input of this kind may be")]
    TooLarge(u64),
}

/// Reads at most `max` bytes of `path` (`-`: standard input); a larger input is an error.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let io = |e: std::io::Error| ReadError::Io(e.to_string());
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    } else {
        let file = std::fs::File::open(path).map_err(io)?;
        if !file.metadata().map_err(io)?.is_file() {
            return Err(ReadError::NotRegular);
        }
        file.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    }
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge(max));
    }
    Ok(bytes)
}

/// [`read`] as UTF-8 text (invalid sequences are an I/O error naming the byte offset).
pub fn read_to_string(path: &Path, max: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, max)?).map_err(|e| {
        ReadError::Io(format!(
            "not valid UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_and_oversized_files() {
        assert_eq!(read(Path::new("/dev/zero"), 16), Err(ReadError::NotRegular));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big");
        std::fs::write(&f, vec![b'x'; 17]).unwrap();
        assert_eq!(read(&f, 16), Err(ReadError::TooLarge(16)));
        assert_eq!(read(&f, 17).unwrap().len(), 17);
        assert_eq!(read(dir.path(), 16), Err(ReadError::NotRegular));
    }
}
