//! What tells a spec file's content apart without reading it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Size, device and inode, and the modification and change times to the nanosecond. A write, a
/// truncation, a `chmod` or a rename into place (as git and Ansible do) changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    len: u64,
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    /// The stamp of the file at `path` (following symlinks), if it can be read.
    pub fn of(path: &Path) -> Option<Self> {
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            len: m.len(),
            dev: m.dev(),
            ino: m.ino(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_or_a_rename_into_place_changes_the_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.yaml");
        std::fs::write(&path, "one").unwrap();
        let first = FileStamp::of(&path).unwrap();
        assert_eq!(FileStamp::of(&path), Some(first));
        // Same size, new content.
        std::fs::write(&path, "two").unwrap();
        assert_ne!(FileStamp::of(&path), Some(first));
        let second = FileStamp::of(&path).unwrap();
        let tmp = dir.path().join(".a.yaml.tmp");
        std::fs::write(&tmp, "two").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert_ne!(FileStamp::of(&path), Some(second));
        assert_eq!(FileStamp::of(&dir.path().join("missing.yaml")), None);
    }
}
