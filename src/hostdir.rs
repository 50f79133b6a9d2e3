//! The directories tenantd writes on the host (the secrets root on tmpfs, the runtime-config and
//! status directories under `state_dir`), worked on through directory file descriptors so that
//! no symbolic link is ever followed below the directory the operator named.
//!
//! A directory is opened once (its last component with `O_NOFOLLOW`), what was opened is checked
//! with `fstat` (type and owner), and everything inside is reached relative to that descriptor,
//! one name at a time, again with `O_NOFOLLOW`. A name that holds something other than what
//! tenantd writes there (a link, a directory, a FIFO) is an error that names it, and it is left as
//! it is. Nothing here removes a whole tree: a file is unlinked by name, and a directory only
//! once it is empty.
//!
//! Written by hand on `rustix`'s `*at` calls: `cap-std` would also confine paths, but it resolves
//! links that stay inside the directory, where tenantd must refuse every link, and it would bring
//! a second way of doing file I/O into the crate for these few operations.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;

/// Why a directory or a file in it was not used. Each names the path it concerns.
#[derive(Debug, thiserror::Error)]
pub enum HostDirError {
    #[error("{}: {operation} failed: {source}", path.display())]
    Io {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is a symbolic link, which tenantd never follows here; it is left as it is (remove it, and find out who made it)",
        path.display()
    )]
    Symlink { path: PathBuf },
    #[error("{} is {found} where tenantd expects {expected}; it is left as it is", path.display())]
    WrongType { path: PathBuf, found: &'static str, expected: &'static str },
    #[error("{} is owned by uid {uid}, not by {expected}; tenantd leaves it as it is", path.display())]
    Owner { path: PathBuf, uid: u32, expected: String },
    #[error(
        "{} is writable by its group or by others (mode {mode:04o}), so another user could swap what tenantd \
         writes there; tenantd writes nothing there (fix with `chmod go-w {}`)",
        path.display(),
        path.display()
    )]
    Writable { path: PathBuf, mode: u32 },
    #[error(
        "{} holds entries tenantd did not create ({}); they and the directory are left as they are",
        path.display(),
        entries.join(", ")
    )]
    NotEmpty { path: PathBuf, entries: Vec<String> },
    #[error("{} is larger than {limit} bytes; not read", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
}

/// The users a directory may belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owners(Vec<u32>);

impl Owners {
    /// Root and the user tenantd runs as: nobody else may own what tenantd writes into.
    pub fn trusted() -> Self {
        let mut uids = vec![0];
        let me = rustix::process::geteuid().as_raw();
        if me != 0 {
            uids.push(me);
        }
        Self(uids)
    }

    /// These owners and `uid` too.
    pub fn and(mut self, uid: Option<u32>) -> Self {
        if let Some(uid) = uid.filter(|u| !self.0.contains(u)) {
            self.0.push(uid);
        }
        self
    }

    pub fn contains(&self, uid: u32) -> bool {
        self.0.contains(&uid)
    }
}

impl std::fmt::Display for Owners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> =
            self.0.iter().map(|u| if *u == 0 { "root".to_string() } else { format!("uid {u}") }).collect();
        f.write_str(&names.join(" or "))
    }
}

/// A file to write with [`HostDir::write_file`].
#[derive(Debug, Clone, Copy)]
pub struct NewFile<'a> {
    pub name: &'a str,
    /// The temporary name it is written under before the rename; tenantd's own, so a regular
    /// file left there by an interrupted write is removed first.
    pub temp: &'a str,
    pub mode: u32,
    /// Set the mode exactly, whatever the umask (a file another user must read); otherwise the
    /// umask may narrow it.
    pub exact_mode: bool,
    /// `uid:gid` to give it.
    pub owner: Option<(u32, u32)>,
}

/// An open directory of the host, reached without following a link at its last component.
#[derive(Debug)]
pub struct HostDir {
    fd: OwnedFd,
    path: PathBuf,
}

fn io_err<'a>(path: &'a Path, operation: &'static str) -> impl FnOnce(Errno) -> HostDirError + 'a {
    move |e| HostDirError::Io { path: path.to_path_buf(), operation, source: e.into() }
}

fn describe(file_type: FileType) -> &'static str {
    match file_type {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "a file of unknown type",
    }
}

/// Refuses a name that is not one plain path component: every name used here is tenantd's own
/// (a tenant, a secret, a fixed file name), so this only guards against a programming error.
fn component(dir: &Path, name: &str) -> Result<(), HostDirError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(HostDirError::Io {
            path: dir.join(name),
            operation: "name check",
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a single path component"),
        });
    }
    Ok(())
}

impl HostDir {
    /// Opens the directory at `path`. Links in its parents are followed (they are the
    /// operator's choice of where it lives); its last component must be the directory itself,
    /// owned by one of `owners`. With `create`, a missing directory (and its parents) is made
    /// with that mode (narrowed by the umask; see [`HostDir::set_mode`]); without, a missing one
    /// is `None`.
    pub fn open(path: &Path, create: Option<u32>, owners: &Owners) -> Result<Option<Self>, HostDirError> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
            return Err(HostDirError::WrongType {
                path: path.to_path_buf(),
                found: "a root path",
                expected: "a directory",
            });
        };
        let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
        if create.is_some() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(parent).map_err(|source| {
                HostDirError::Io { path: parent.to_path_buf(), operation: "create directory", source }
            })?;
        }
        let fd = match rustix::fs::open(parent, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if create.is_none() => return Ok(None),
            Err(e) => return Err(io_err(parent, "open directory")(e)),
        };
        let parent = HostDir { fd, path: parent.to_path_buf() };
        parent.subdir(name, create, owners)
    }

    /// Opens the directory `name` in this one, never through a link, owned by one of `owners`.
    /// With `create`, a missing one is made with that mode (narrowed by the umask).
    pub fn subdir(&self, name: &str, create: Option<u32>, owners: &Owners) -> Result<Option<Self>, HostDirError> {
        component(&self.path, name)?;
        let mut created = None;
        if let Some(mode) = create {
            // EEXIST is the usual case; any other failure shows only if the directory cannot be
            // opened either (a read-only filesystem refuses mkdir even where the directory is).
            created =
                rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(mode)).err().filter(|e| *e != Errno::EXIST);
        }
        let Some(dir) = self.open_subdir(name)? else {
            return match created {
                Some(e) => Err(io_err(&self.path.join(name), "create directory")(e)),
                None if create.is_some() => Err(io_err(&self.path.join(name), "open directory")(Errno::NOENT)),
                None => Ok(None),
            };
        };
        let st = rustix::fs::fstat(&dir.fd).map_err(io_err(&dir.path, "stat"))?;
        if !owners.contains(st.st_uid) {
            return Err(HostDirError::Owner { path: dir.path, uid: st.st_uid, expected: owners.to_string() });
        }
        Ok(Some(dir))
    }

    /// The directory `name`, opened without following a link and without checking its owner.
    fn open_subdir(&self, name: &str) -> Result<Option<Self>, HostDirError> {
        let path = self.path.join(name);
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => Ok(Some(HostDir { fd, path })),
            Err(Errno::NOENT) => Ok(None),
            // O_NOFOLLOW with O_DIRECTORY reports a link as either.
            Err(Errno::LOOP | Errno::NOTDIR) => Err(self.wrong_type(name, "a directory")),
            Err(e) => Err(io_err(&path, "open directory")(e)),
        }
    }

    /// What is at `name` instead of what was expected there, as an error.
    fn wrong_type(&self, name: &str, expected: &'static str) -> HostDirError {
        let path = self.path.join(name);
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => HostDirError::Symlink { path },
            Ok(st) => HostDirError::WrongType { path, found: describe(FileType::from_raw_mode(st.st_mode)), expected },
            Err(e) => io_err(&path, "stat")(e),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The permission bits (and set-id/sticky bits) of the directory itself.
    pub fn mode(&self) -> Result<u32, HostDirError> {
        rustix::fs::fstat(&self.fd).map(|st| st.st_mode & 0o7777).map_err(io_err(&self.path, "stat"))
    }

    /// Gives the directory exactly `mode` (when it has another).
    pub fn set_mode(&self, mode: u32) -> Result<(), HostDirError> {
        if self.mode()? != mode {
            rustix::fs::fchmod(&self.fd, Mode::from_raw_mode(mode)).map_err(io_err(&self.path, "chmod"))?;
        }
        Ok(())
    }

    /// Takes away every permission bit outside `max` (a mode written by an earlier version, or
    /// widened by hand); a narrower mode is kept.
    pub fn limit_mode(&self, max: u32) -> Result<(), HostDirError> {
        let mode = self.mode()?;
        if mode & !max != 0 {
            rustix::fs::fchmod(&self.fd, Mode::from_raw_mode(mode & max)).map_err(io_err(&self.path, "chmod"))?;
        }
        Ok(())
    }

    /// Refuses a directory its group or others may write to.
    pub fn refuse_shared_writes(&self) -> Result<(), HostDirError> {
        let mode = self.mode()?;
        if mode & 0o022 != 0 {
            return Err(HostDirError::Writable { path: self.path.clone(), mode });
        }
        Ok(())
    }

    pub fn chown(&self, (uid, gid): (u32, u32)) -> Result<(), HostDirError> {
        let st = rustix::fs::fstat(&self.fd).map_err(io_err(&self.path, "stat"))?;
        if (st.st_uid, st.st_gid) != (uid, gid) {
            rustix::fs::fchown(&self.fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                .map_err(io_err(&self.path, "chown"))?;
        }
        Ok(())
    }

    /// The filesystem type (`statfs` magic) the directory is on.
    pub fn fs_type(&self) -> Result<u64, HostDirError> {
        rustix::fs::fstatfs(&self.fd).map(|s| s.f_type as u64).map_err(io_err(&self.path, "statfs"))
    }

    /// The type of what is at `name`, not following a link; `None` when nothing is.
    pub fn kind(&self, name: &str) -> Result<Option<FileType>, HostDirError> {
        component(&self.path, name)?;
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io_err(&self.path.join(name), "stat")(e)),
        }
    }

    /// Nothing, or a regular file, at `name`: what a write may replace.
    fn expect_file_or_nothing(&self, name: &str) -> Result<(), HostDirError> {
        match self.kind(name)? {
            None | Some(FileType::RegularFile) => Ok(()),
            Some(_) => Err(self.wrong_type(name, "a regular file")),
        }
    }

    /// Writes `file` whole: into its temporary name (created anew, never through a link), then
    /// renamed over `name`, so a reader sees the old content or the new one. A link, directory
    /// or other non-regular entry at either name is an error and stays as it is.
    pub fn write_file(&self, file: NewFile<'_>, bytes: &[u8]) -> Result<(), HostDirError> {
        component(&self.path, file.temp)?;
        self.expect_file_or_nothing(file.name)?;
        self.remove_file(file.temp)?;
        let temp = self.path.join(file.temp);
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, file.temp, flags, Mode::from_raw_mode(file.mode))
            .map_err(io_err(&temp, "create"))?;
        let written = (|| {
            let mut f = std::fs::File::from(fd);
            let write = |operation: &'static str| {
                let path = temp.clone();
                move |source| HostDirError::Io { path, operation, source }
            };
            f.write_all(bytes).map_err(write("write"))?;
            if file.exact_mode {
                rustix::fs::fchmod(&f, Mode::from_raw_mode(file.mode)).map_err(io_err(&temp, "chmod"))?;
            }
            if let Some((uid, gid)) = file.owner {
                rustix::fs::fchown(&f, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                    .map_err(io_err(&temp, "chown"))?;
            }
            f.sync_all().map_err(write("fsync"))?;
            rustix::fs::renameat(&self.fd, file.temp, &self.fd, file.name)
                .map_err(io_err(&self.path.join(file.name), "rename"))?;
            rustix::fs::fsync(&self.fd).map_err(io_err(&self.path, "fsync"))
        })();
        if written.is_err() {
            // No partial file stays behind; the temporary name is tenantd's own.
            let _ = rustix::fs::unlinkat(&self.fd, file.temp, AtFlags::empty());
        }
        written
    }

    /// The content of the regular file `name` (`None` when there is none), read without
    /// following a link and without blocking on a FIFO; at most `limit` bytes.
    pub fn read_file(&self, name: &str, limit: u64) -> Result<Option<Vec<u8>>, HostDirError> {
        let Some(f) = self.open_file(name)? else { return Ok(None) };
        let path = self.path.join(name);
        let mut bytes = Vec::new();
        f.take(limit + 1).read_to_end(&mut bytes).map_err(|source| HostDirError::Io {
            path: path.clone(),
            operation: "read",
            source,
        })?;
        if bytes.len() as u64 > limit {
            return Err(HostDirError::TooLarge { path, limit });
        }
        Ok(Some(bytes))
    }

    /// Opens the regular file `name` for reading; `None` when there is nothing there.
    fn open_file(&self, name: &str) -> Result<Option<std::fs::File>, HostDirError> {
        component(&self.path, name)?;
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => return Err(HostDirError::Symlink { path: self.path.join(name) }),
            Err(e) => return Err(io_err(&self.path.join(name), "open")(e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(io_err(&self.path.join(name), "stat"))?;
        let file_type = FileType::from_raw_mode(st.st_mode);
        if file_type != FileType::RegularFile {
            let path = self.path.join(name);
            return Err(HostDirError::WrongType { path, found: describe(file_type), expected: "a regular file" });
        }
        Ok(Some(std::fs::File::from(fd)))
    }

    /// Takes away every permission bit outside `max` from the regular file `name`, if it is there.
    pub fn limit_file_mode(&self, name: &str, max: u32) -> Result<(), HostDirError> {
        let Some(f) = self.open_file(name)? else { return Ok(()) };
        let path = self.path.join(name);
        let mode = rustix::fs::fstat(&f).map_err(io_err(&path, "stat"))?.st_mode & 0o7777;
        if mode & !max != 0 {
            rustix::fs::fchmod(&f, Mode::from_raw_mode(mode & max)).map_err(io_err(&path, "chmod"))?;
        }
        Ok(())
    }

    /// Unlinks the regular file `name`; `false` when nothing was there. Anything else at that
    /// name (a link, a directory) is an error and stays.
    pub fn remove_file(&self, name: &str) -> Result<bool, HostDirError> {
        match self.kind(name)? {
            None => Ok(false),
            Some(FileType::RegularFile) => match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => Ok(true),
                Err(e) => Err(io_err(&self.path.join(name), "remove")(e)),
            },
            Some(_) => Err(self.wrong_type(name, "a regular file")),
        }
    }

    /// Removes the directory `name` once it is empty; one that still holds entries is left, and
    /// the error lists them. Nothing there is fine.
    pub fn remove_subdir(&self, name: &str) -> Result<(), HostDirError> {
        component(&self.path, name)?;
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(Errno::NOTEMPTY | Errno::EXIST) => {
                let entries = self.open_subdir(name)?.map(|d| d.entries()).transpose()?.unwrap_or_default();
                Err(HostDirError::NotEmpty { path: self.path.join(name), entries })
            }
            Err(Errno::NOTDIR) => Err(self.wrong_type(name, "a directory")),
            Err(e) => Err(io_err(&self.path.join(name), "remove directory")(e)),
        }
    }

    /// The names in the directory (without `.` and `..`), sorted.
    pub fn entries(&self) -> Result<Vec<String>, HostDirError> {
        let dir = rustix::fs::Dir::read_from(&self.fd).map_err(io_err(&self.path, "list"))?;
        let mut names = Vec::new();
        for entry in dir {
            let entry = entry.map_err(io_err(&self.path, "list"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name != "." && name != ".." {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests;
