//! File-system checks for private material (keys, passphrases, host keys, run directories):
//! whose it is, and whether anyone else can read or change it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The effective user id of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether `path` may be trusted as private material: not a symbolic link, owned by this user,
/// and neither group nor others may read or write it. A cache entry another local user put in a
/// shared directory would otherwise hand out their key; the error says which of these failed.
pub fn private_entry(path: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.file_type().is_symlink() {
        return Err(format!("{} is a symbolic link", path.display()));
    }
    if meta.uid() != euid() {
        return Err(format!(
            "{} is owned by uid {}, not by the user running sshmatrix (uid {})",
            path.display(),
            meta.uid(),
            euid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} is open to group or others (mode {:o})",
            path.display(),
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

/// Creates `path` (and missing parents) as 0700 directories. An existing one must be this
/// user's and not a link; it is then closed to group and others if it was open (it is
/// sshmatrix's own, inside its work directory). Another user's directory is never changed.
pub fn private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() || meta.uid() != euid() {
        return Err(std::io::Error::other(format!(
            "{} is a symbolic link or another user's directory",
            path.display()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Opens `path` for writing (appending or not) the way every report, stream and rescue file is
/// opened: never through a symbolic link, created 0600, and never a regular file another user
/// owns (a shared directory could hold either, set up to redirect what sshmatrix writes).
pub fn open_for_writing(path: &Path, append: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .append(append)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => {
                std::io::Error::other("is a symbolic link; refused (name the file itself)")
            }
            _ => e,
        })?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.uid() != euid() {
        return Err(std::io::Error::other(format!(
            "belongs to uid {}, another user; refused (write a file of your own)",
            meta.uid()
        )));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_means_own_unlinked_and_closed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(private_entry(&f), Ok(()));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(private_entry(&f).unwrap_err().contains("mode 640"));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(private_entry(&link).unwrap_err().contains("symbolic link"));
    }
}
