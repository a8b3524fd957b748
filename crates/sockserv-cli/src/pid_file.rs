//! `--pid-file`: the pid of whichever process owns the listeners, for `kill -USR2
//! $(cat FILE)` and for supervisors.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The pid file this process wrote. Dropped (a clean exit), it is removed, unless it
/// names another process by then: the new one of an upgrade owns it.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's pid to `path`, replacing the file atomically (a temporary
    /// file beside it, renamed over it): a reader sees the old pid or the new one, never
    /// an empty or half-written file.
    ///
    /// # Errors
    ///
    /// When the file cannot be written (one line naming it).
    pub fn write(path: &Path) -> Result<PidFile> {
        let file = PidFile {
            path: path.to_owned(),
        };
        file.claim()?;
        Ok(file)
    }

    /// Writes this process's pid again: after a failed upgrade, the new process may have
    /// written its own before it died.
    ///
    /// # Errors
    ///
    /// As [`PidFile::write`].
    pub fn claim(&self) -> Result<()> {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let temp = self
            .path
            .with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let fail = || format!("cannot write the pid file {}", self.path.display());
        std::fs::write(&temp, format!("{}\n", std::process::id())).with_context(fail)?;
        std::fs::rename(&temp, &self.path)
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&temp);
            })
            .with_context(fail)
    }

    fn names_us(&self) -> bool {
        std::fs::read_to_string(&self.path)
            .is_ok_and(|text| text.trim() == std::process::id().to_string())
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if self.names_us() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_replaced_and_removed_only_while_it_names_us() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sockserv.pid");
        std::fs::write(&path, "1\n").unwrap();
        let file = PidFile::write(&path).unwrap();
        let ours = format!("{}\n", std::process::id());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), ours);
        drop(file);
        assert!(!path.exists(), "removed on a clean exit");

        let file = PidFile::write(&path).unwrap();
        std::fs::write(&path, "424242\n").unwrap(); // an upgrade's new process took it
        drop(file);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "424242\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn an_unwritable_path_is_one_clear_error() {
        let err = PidFile::write(Path::new("/nonexistent-dir/x.pid")).unwrap_err();
        assert!(format!("{err:#}").starts_with("cannot write the pid file /nonexistent-dir/x.pid"));
    }
}
