//! The files of a build context, exactly as they are sent to the engine: one walk decides the
//! entries (honouring `.dockerignore`, dot-directories included) and their size, refused over
//! the limit; one pass then reads exactly those entries, handing each to a sink (the archive
//! sent to the engine, or nothing) and digesting what it hands over. So the digest, the limit
//! and the archive always cover the same files, and a digest is of the bytes that were sent.
//!
//! Nothing is followed out of the context. Directories are opened relative to their parent's
//! descriptor with `O_NOFOLLOW`; a symlink is an entry of its own (its target text is recorded
//! and digested, never followed, as `docker build` sends it); a file is opened `O_NOFOLLOW |
//! O_NONBLOCK` and checked to be a regular file once open, so a FIFO swapped in never blocks.
//! FIFOs, sockets and devices are left out: they carry no content.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, CWD};
use sha2::{Digest, Sha256};

use super::dockerignore::{DockerIgnore, IgnoreError};

/// Build contexts larger than this are refused: the sizes of the files sent plus
/// [`ENTRY_BYTES`] for every entry (file, directory or symlink).
pub const MAX_CONTEXT_BYTES: u64 = 256 << 20;

/// What each entry counts towards [`MAX_CONTEXT_BYTES`] besides its content: its archive header.
/// This also bounds the number of entries, and so the memory the list of them takes.
pub const ENTRY_BYTES: u64 = 512;

/// Directories nested deeper than this are refused (each level holds a descriptor while walked).
pub const MAX_CONTEXT_DEPTH: usize = 128;

/// The largest `.dockerignore` read.
const MAX_IGNORE_FILE_BYTES: u64 = 1 << 20;

/// Why a context cannot be walked or read; each names the context or the path concerned.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("cannot read {path} in the build context: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "the build context {context} holds more than {} MiB, the limit (every file, directory and \
         symlink not excluded by .dockerignore counts, dot-directories included, plus {ENTRY_BYTES} \
         bytes per entry); list what the build does not need in {context}/.dockerignore",
        MAX_CONTEXT_BYTES >> 20
    )]
    TooLarge { context: PathBuf },
    #[error("the build context {context} nests directories more than {MAX_CONTEXT_DEPTH} deep (at {path})")]
    TooDeep { context: PathBuf, path: PathBuf },
    #[error("{context}/{error}")]
    Ignore { context: PathBuf, error: IgnoreError },
    #[error("{context}/.dockerignore {reason}")]
    IgnoreFile { context: PathBuf, reason: String },
    #[error("dockerfile {0:?} must be a relative path inside the build context, without '..'")]
    DockerfileOutside(String),
    #[error("dockerfile {dockerfile:?} does not exist in the build context {context} (or .dockerignore leaves out a directory holding it)")]
    DockerfileMissing { context: PathBuf, dockerfile: String },
    #[error("{path} in the build context changed while it was read: {what}")]
    Changed { path: PathBuf, what: &'static str },
    #[error("writing the build context failed: {0}")]
    Sink(#[source] io::Error),
}

/// What an entry is, with what the archive needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File { size: u64 },
    Symlink { target: Vec<u8> },
}

/// One entry of a context, in walk order (a directory before what it holds, names sorted).
#[derive(Debug, Clone)]
pub struct ContextEntry {
    /// Relative to the context root, `/`-separated.
    pub path: Vec<u8>,
    pub kind: EntryKind,
    /// The permission bits (`mode & 0o7777`).
    pub mode: u32,
    /// Seconds since the epoch (0 for earlier times); sent, but not digested.
    pub mtime: u64,
    /// Where the last name of `path` starts.
    name_at: usize,
    /// How many directories lie between the root and this entry.
    depth: usize,
    /// False for a directory `.dockerignore` excludes but that is walked for exceptions below
    /// it: it is opened to reach them, and neither sent nor digested (as `docker build` does).
    sent: bool,
}

/// Receives the entries of a context in order; a file's content must be read to its end.
pub trait ContextSink {
    fn dir(&mut self, entry: &ContextEntry) -> io::Result<()>;
    fn file(&mut self, entry: &ContextEntry, content: &mut dyn Read) -> io::Result<()>;
    fn symlink(&mut self, entry: &ContextEntry, target: &[u8]) -> io::Result<()>;
}

/// The walked context: which entries are sent, and what they count towards the limit.
#[derive(Debug)]
pub struct ContextFiles {
    root: PathBuf,
    dockerfile: String,
    entries: Vec<ContextEntry>,
    counted: u64,
    skipped: Vec<Vec<u8>>,
}

/// The digest of the context at `root` built with `dockerfile` (as [`ContextFiles::read`] gives
/// it), reading every file once and keeping none of it.
pub fn context_digest(root: &Path, dockerfile: &str) -> Result<String, ContextError> {
    ContextFiles::walk(root, dockerfile)?.read(&mut Discard)
}

impl ContextFiles {
    /// Walks the context at `root` (canonical) once: applies `.dockerignore` (keeping the
    /// Dockerfile and `.dockerignore`, as the Docker client does), counts what is sent and
    /// stops with [`ContextError::TooLarge`] as soon as that passes [`MAX_CONTEXT_BYTES`].
    /// Reads no file content but `.dockerignore`.
    pub fn walk(root: &Path, dockerfile: &str) -> Result<Self, ContextError> {
        let dockerfile = clean_dockerfile(dockerfile)?;
        let root_fd = open_dir(CWD, root.as_os_str().as_bytes())
            .map_err(|source| ContextError::Read { path: root.to_path_buf(), source: source.into() })?;
        let mut ignore = read_ignore_file(root, &root_fd)?;
        ignore.keep(".dockerignore");
        ignore.keep(&dockerfile);
        let mut walk = Walk { root, ignore, entries: Vec::new(), counted: 0, skipped: Vec::new() };
        walk.dir(&root_fd, &[], 0)?;
        let found = walk.entries.iter().any(|e| {
            e.sent
                && e.path == dockerfile.as_bytes()
                && matches!(e.kind, EntryKind::File { .. } | EntryKind::Symlink { .. })
        });
        if !found {
            return Err(ContextError::DockerfileMissing { context: root.to_path_buf(), dockerfile });
        }
        Ok(Self {
            root: root.to_path_buf(),
            dockerfile,
            entries: walk.entries,
            counted: walk.counted,
            skipped: walk.skipped,
        })
    }

    /// The context directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What the sent entries count towards [`MAX_CONTEXT_BYTES`].
    pub fn counted_bytes(&self) -> u64 {
        self.counted
    }

    /// The entries sent, in order.
    pub fn entries(&self) -> impl Iterator<Item = &ContextEntry> {
        self.entries.iter().filter(|e| e.sent)
    }

    /// FIFOs, sockets and devices found and left out.
    pub fn skipped(&self) -> &[Vec<u8>] {
        &self.skipped
    }

    /// Reads the walked entries in order and hands each to `sink`: a file's content is exactly
    /// its size at the walk (a file that shrank since is an error; one that grew gives only
    /// that many bytes), a symlink's target and every mode as the walk saw them. Returns the
    /// hex SHA-256 of what `sink` was given: each entry's path, kind, mode, a file's size and the
    /// SHA-256 of its bytes, a symlink's target, then the Dockerfile's name.
    pub fn read(&self, sink: &mut dyn ContextSink) -> Result<String, ContextError> {
        let unreadable = |path: PathBuf| move |e: rustix::io::Errno| ContextError::Read { path, source: e.into() };
        let root = open_dir(CWD, self.root.as_os_str().as_bytes()).map_err(unreadable(self.root.clone()))?;
        let mut dirs = vec![root];
        let mut digest = Sha256::new();
        for entry in &self.entries {
            dirs.truncate(entry.depth + 1);
            let parent = dirs.last().expect("the root stays open");
            let name = &entry.path[entry.name_at..];
            match &entry.kind {
                EntryKind::Dir => {
                    let fd = open_dir(parent, name).map_err(|_| self.changed(entry, "no longer a directory"))?;
                    if entry.sent {
                        digest_entry(&mut digest, entry, b'd');
                        sink.dir(entry).map_err(ContextError::Sink)?;
                    }
                    dirs.push(fd);
                }
                EntryKind::File { size } => {
                    let file = open_file(parent, name).map_err(|_| self.changed(entry, "no longer a regular file"))?;
                    let mut content = ExactRead { file, left: *size, hasher: Sha256::new(), failure: None };
                    let written = sink.file(entry, &mut content);
                    match (content.failure.take(), written) {
                        (Some(Failure::Shorter), _) => return Err(self.changed(entry, "it became shorter")),
                        (Some(Failure::Io(source)), _) => {
                            return Err(ContextError::Read { path: self.path_of(entry), source })
                        }
                        (None, Err(e)) => return Err(ContextError::Sink(e)),
                        (None, Ok(())) if content.left > 0 => {
                            return Err(ContextError::Sink(io::Error::other("the content was not read to its end")))
                        }
                        (None, Ok(())) => {}
                    }
                    digest_entry(&mut digest, entry, b'f');
                    digest.update(size.to_le_bytes());
                    digest.update(content.hasher.finalize());
                }
                EntryKind::Symlink { target } => {
                    digest_entry(&mut digest, entry, b'l');
                    digest.update((target.len() as u64).to_le_bytes());
                    digest.update(target);
                    sink.symlink(entry, target).map_err(ContextError::Sink)?;
                }
            }
        }
        digest.update(b"D");
        digest.update((self.dockerfile.len() as u64).to_le_bytes());
        digest.update(self.dockerfile.as_bytes());
        Ok(hex::encode(digest.finalize()))
    }

    fn path_of(&self, entry: &ContextEntry) -> PathBuf {
        self.root.join(std::ffi::OsStr::from_bytes(&entry.path))
    }

    fn changed(&self, entry: &ContextEntry, what: &'static str) -> ContextError {
        ContextError::Changed { path: self.path_of(entry), what }
    }
}

fn digest_entry(digest: &mut Sha256, entry: &ContextEntry, kind: u8) {
    digest.update((entry.path.len() as u64).to_le_bytes());
    digest.update(&entry.path);
    digest.update([kind]);
    digest.update(entry.mode.to_le_bytes());
}

/// A sink that keeps nothing: reading through it only digests.
pub struct Discard;

impl ContextSink for Discard {
    fn dir(&mut self, _: &ContextEntry) -> io::Result<()> {
        Ok(())
    }

    fn file(&mut self, _: &ContextEntry, content: &mut dyn Read) -> io::Result<()> {
        io::copy(content, &mut io::sink()).map(drop)
    }

    fn symlink(&mut self, _: &ContextEntry, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// The Dockerfile's path as one relative, `/`-separated name.
fn clean_dockerfile(dockerfile: &str) -> Result<String, ContextError> {
    let mut parts = Vec::new();
    for c in Path::new(dockerfile).components() {
        match c {
            Component::Normal(name) => parts.push(name.to_str().expect("from a str")),
            Component::CurDir => {}
            _ => return Err(ContextError::DockerfileOutside(dockerfile.to_string())),
        }
    }
    if parts.is_empty() {
        return Err(ContextError::DockerfileOutside(dockerfile.to_string()));
    }
    Ok(parts.join("/"))
}

pub(super) fn open_dir(parent: impl std::os::fd::AsFd, name: &[u8]) -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(parent, std::ffi::OsStr::from_bytes(name), flags, Mode::empty())
}

/// Opens a regular file without following a symlink and without blocking on a FIFO; anything
/// but a regular file once open is refused.
pub(super) fn open_file(parent: impl std::os::fd::AsFd, name: &[u8]) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(parent, std::ffi::OsStr::from_bytes(name), flags, Mode::empty())?;
    let stat = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(File::from(fd))
}

/// The root's `.dockerignore`, if any: it must be a regular file (never followed), UTF-8, and
/// valid as Docker reads it.
fn read_ignore_file(root: &Path, root_fd: &OwnedFd) -> Result<DockerIgnore, ContextError> {
    let bad = |reason: &str| ContextError::IgnoreFile { context: root.to_path_buf(), reason: reason.to_string() };
    let file = match open_file(root_fd, b".dockerignore") {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DockerIgnore::default()),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err(bad("is a symlink; it must be a regular file"))
        }
        Err(e) => return Err(bad(&format!("cannot be read ({e}); it must be a regular file"))),
    };
    let mut text = Vec::new();
    file.take(MAX_IGNORE_FILE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|source| ContextError::Read { path: root.join(".dockerignore"), source })?;
    if text.len() as u64 > MAX_IGNORE_FILE_BYTES {
        return Err(bad(&format!("is larger than {} KiB", MAX_IGNORE_FILE_BYTES >> 10)));
    }
    let text = String::from_utf8(text).map_err(|_| bad("is not UTF-8"))?;
    DockerIgnore::parse(&text).map_err(|error| ContextError::Ignore { context: root.to_path_buf(), error })
}

struct Walk<'a> {
    root: &'a Path,
    ignore: DockerIgnore,
    entries: Vec<ContextEntry>,
    counted: u64,
    skipped: Vec<Vec<u8>>,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &OwnedFd, prefix: &[u8], depth: usize) -> Result<(), ContextError> {
        let here = self.root.join(std::ffi::OsStr::from_bytes(prefix));
        let unreadable = |path: &Path| {
            let path = path.to_path_buf();
            move |e: rustix::io::Errno| ContextError::Read { path, source: e.into() }
        };
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(dir).map_err(unreadable(&here))? {
            let entry = entry.map_err(unreadable(&here))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
        }
        names.sort();
        for name in names {
            let mut path = prefix.to_vec();
            if !path.is_empty() {
                path.push(b'/');
            }
            let name_at = path.len();
            path.extend_from_slice(&name);
            let os_name = std::ffi::OsStr::from_bytes(&name);
            let stat = match rustix::fs::statat(dir, os_name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => stat,
                // Gone since it was listed: it is not in the context.
                Err(rustix::io::Errno::NOENT) => continue,
                Err(e) => return Err(unreadable(&here.join(os_name))(e)),
            };
            let kind = FileType::from_raw_mode(stat.st_mode);
            let mode = stat.st_mode & 0o7777;
            let mtime = u64::try_from(stat.st_mtime).unwrap_or(0);
            let entry = |kind, sent| ContextEntry { path: path.clone(), kind, mode, mtime, name_at, depth, sent };
            if self.ignore.excludes(&path) {
                // An excluded directory is still walked when an exception names something in it.
                if kind == FileType::Directory && self.ignore.may_include_below(&path) {
                    self.entries.push(entry(EntryKind::Dir, false));
                    self.descend(dir, &name, &path, depth)?;
                }
                continue;
            }
            match kind {
                FileType::Directory => {
                    self.entries.push(entry(EntryKind::Dir, true));
                    self.count(0)?;
                    self.descend(dir, &name, &path, depth)?;
                }
                FileType::RegularFile => {
                    let size = u64::try_from(stat.st_size).unwrap_or(0);
                    self.entries.push(entry(EntryKind::File { size }, true));
                    self.count(size)?;
                }
                FileType::Symlink => {
                    let target = rustix::fs::readlinkat(dir, os_name, Vec::new())
                        .map_err(unreadable(&here.join(os_name)))?
                        .into_bytes();
                    self.entries.push(entry(EntryKind::Symlink { target }, true));
                    self.count(0)?;
                }
                _ => self.skipped.push(path),
            }
        }
        Ok(())
    }

    fn descend(&mut self, dir: &OwnedFd, name: &[u8], path: &[u8], depth: usize) -> Result<(), ContextError> {
        let full = || self.root.join(std::ffi::OsStr::from_bytes(path));
        if depth + 1 > MAX_CONTEXT_DEPTH {
            return Err(ContextError::TooDeep { context: self.root.to_path_buf(), path: full() });
        }
        let child = open_dir(dir, name).map_err(|e| ContextError::Read { path: full(), source: e.into() })?;
        self.dir(&child, path, depth + 1)
    }

    fn count(&mut self, content: u64) -> Result<(), ContextError> {
        self.counted = self.counted.saturating_add(ENTRY_BYTES).saturating_add(content);
        if self.counted > MAX_CONTEXT_BYTES {
            return Err(ContextError::TooLarge { context: self.root.to_path_buf() });
        }
        Ok(())
    }
}

enum Failure {
    Shorter,
    Io(io::Error),
}

/// Exactly `left` bytes of a file, digested as they are read; a file that ends early is a
/// failure (recorded here, so the caller can tell it from the sink's own errors).
struct ExactRead {
    file: File,
    left: u64,
    hasher: Sha256,
    failure: Option<Failure>,
}

impl Read for ExactRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        match self.file.read(&mut buf[..want]) {
            Ok(0) => {
                self.failure = Some(Failure::Shorter);
                Err(io::Error::other("the file became shorter while it was read"))
            }
            Ok(n) => {
                self.hasher.update(&buf[..n]);
                self.left -= n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let kind = e.kind();
                self.failure = Some(Failure::Io(e));
                Err(io::Error::new(kind, "reading a file of the build context failed"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn write(path: &Path, content: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    fn context() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(tmp.path()).unwrap().join("ctx");
        write(&root.join("Dockerfile"), "FROM scratch\n");
        (tmp, root)
    }

    fn sent(root: &Path) -> Vec<String> {
        let files = ContextFiles::walk(root, "Dockerfile").unwrap();
        files.entries().map(|e| String::from_utf8_lossy(&e.path).into_owned()).collect()
    }

    fn digest(root: &Path) -> String {
        context_digest(root, "Dockerfile").unwrap()
    }

    #[test]
    fn dot_directories_are_walked_sent_and_digested_like_any_other() {
        let (_tmp, root) = context();
        write(&root.join(".cache/blob"), "one");
        write(&root.join(".git/HEAD"), "ref");
        write(&root.join("target/x"), "x");
        assert_eq!(sent(&root), [".cache", ".cache/blob", ".git", ".git/HEAD", "Dockerfile", "target", "target/x"]);
        let before = digest(&root);
        assert_eq!(digest(&root), before, "the digest is deterministic");
        write(&root.join(".cache/blob"), "two");
        assert_ne!(digest(&root), before, "an edit under a dot-directory changes the digest");
    }

    #[test]
    fn the_digest_follows_content_names_modes_and_links() {
        let (_tmp, root) = context();
        write(&root.join("src/a.txt"), "a");
        let d0 = digest(&root);
        write(&root.join("src/a.txt"), "b");
        let d1 = digest(&root);
        assert_ne!(d1, d0, "content counts");
        fs::rename(root.join("src/a.txt"), root.join("src/b.txt")).unwrap();
        let d2 = digest(&root);
        assert_ne!(d2, d1, "names count");
        fs::set_permissions(root.join("src/b.txt"), fs::Permissions::from_mode(0o600)).unwrap();
        let d3 = digest(&root);
        assert_ne!(d3, d2, "modes count");
        fs::create_dir(root.join("empty")).unwrap();
        let d4 = digest(&root);
        assert_ne!(d4, d3, "an empty directory is sent, so it counts");
        std::os::unix::fs::symlink("src/b.txt", root.join("link")).unwrap();
        let d5 = digest(&root);
        assert_ne!(d5, d4);
        fs::remove_file(root.join("link")).unwrap();
        std::os::unix::fs::symlink("src/other", root.join("link")).unwrap();
        assert_ne!(digest(&root), d5, "a symlink's target counts");
        assert_eq!(context_digest(&root, "./Dockerfile").unwrap(), digest(&root), "a ./ prefix names the same file");
    }

    #[test]
    fn symlinks_are_entries_never_followed() {
        let (tmp, root) = context();
        write(&tmp.path().join("outside/secret"), "s3cret");
        std::os::unix::fs::symlink(tmp.path().join("outside"), root.join("dir-link")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside/secret"), root.join("file-link")).unwrap();
        let files = ContextFiles::walk(&root, "Dockerfile").unwrap();
        let kinds: Vec<(String, EntryKind)> =
            files.entries().map(|e| (String::from_utf8_lossy(&e.path).into_owned(), e.kind.clone())).collect();
        let target = |p: &str| EntryKind::Symlink { target: tmp.path().join(p).as_os_str().as_bytes().to_vec() };
        assert_eq!(
            kinds,
            [
                ("Dockerfile".to_string(), EntryKind::File { size: 13 }),
                ("dir-link".to_string(), target("outside")),
                ("file-link".to_string(), target("outside/secret")),
            ]
        );
        let before = digest(&root);
        write(&tmp.path().join("outside/secret"), "changed");
        assert_eq!(digest(&root), before, "what a link points at is not part of the context");
    }

    #[test]
    fn special_files_are_left_out_without_blocking() {
        let (_tmp, root) = context();
        rustix::fs::mknodat(CWD, root.join("fifo"), FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(root.join("socket")).unwrap();
        let files = ContextFiles::walk(&root, "Dockerfile").unwrap();
        assert_eq!(files.skipped(), [b"fifo".to_vec(), b"socket".to_vec()]);
        assert_eq!(sent(&root), ["Dockerfile"]);
        digest(&root);
    }

    #[test]
    fn a_file_swapped_for_a_fifo_after_the_walk_is_an_error_not_a_hang() {
        let (_tmp, root) = context();
        write(&root.join("data"), "x");
        let files = ContextFiles::walk(&root, "Dockerfile").unwrap();
        fs::remove_file(root.join("data")).unwrap();
        rustix::fs::mknodat(CWD, root.join("data"), FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
        let error = files.read(&mut Discard).unwrap_err();
        assert!(matches!(error, ContextError::Changed { .. }), "{error}");
        assert!(error.to_string().contains("data"), "{error}");
    }

    #[test]
    fn a_directory_swapped_for_a_symlink_after_the_walk_is_not_followed() {
        let (tmp, root) = context();
        write(&root.join("sub/passwd"), "mine");
        write(&tmp.path().join("outside/passwd"), "theirs");
        let files = ContextFiles::walk(&root, "Dockerfile").unwrap();
        fs::remove_dir_all(root.join("sub")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside"), root.join("sub")).unwrap();
        let error = files.read(&mut Discard).unwrap_err();
        assert!(matches!(error, ContextError::Changed { .. }), "{error}");
    }

    #[test]
    fn a_file_that_shrinks_is_an_error_and_one_that_grows_gives_what_was_walked() {
        let (_tmp, root) = context();
        write(&root.join("data"), "0123456789");
        let files = ContextFiles::walk(&root, "Dockerfile").unwrap();
        let before = files.read(&mut Discard).unwrap();
        write(&root.join("data"), "0123456789 and more");
        assert_eq!(files.read(&mut Discard).unwrap(), before, "only the walked size is read");
        write(&root.join("data"), "01234");
        let error = files.read(&mut Discard).unwrap_err();
        assert!(error.to_string().contains("became shorter"), "{error}");
    }

    #[test]
    fn dockerignore_decides_what_is_walked_sent_and_digested() {
        let (_tmp, root) = context();
        write(&root.join(".dockerignore"), "*.log\n.git\nvendor\n!vendor/keep\nDockerfile\n");
        write(&root.join("app.log"), "noise");
        write(&root.join(".git/HEAD"), "ref");
        write(&root.join("vendor/keep"), "k");
        write(&root.join("vendor/drop"), "d");
        write(&root.join("src/main.c"), "int main;");
        write(&root.join("src/debug.log"), "noise");
        // As in Docker, `*.log` covers the root only (a gitignore pattern would match at any depth).
        assert_eq!(sent(&root), [".dockerignore", "Dockerfile", "src", "src/debug.log", "src/main.c", "vendor/keep"]);
        let before = digest(&root);
        write(&root.join("app.log"), "more noise");
        write(&root.join("vendor/drop"), "other");
        write(&root.join(".git/HEAD"), "other");
        assert_eq!(digest(&root), before, "what is excluded does not count");
        write(&root.join("vendor/keep"), "k2");
        assert_ne!(digest(&root), before, "an exception counts");
    }

    #[test]
    fn a_dockerfile_left_out_by_its_directory_is_still_sent() {
        let (_tmp, root) = context();
        write(&root.join("build/Dockerfile"), "FROM scratch\n");
        write(&root.join("build/other"), "x");
        write(&root.join(".dockerignore"), "build\n");
        let files = ContextFiles::walk(&root, "build/Dockerfile").unwrap();
        let paths: Vec<_> = files.entries().map(|e| String::from_utf8_lossy(&e.path).into_owned()).collect();
        assert_eq!(paths, [".dockerignore", "Dockerfile", "build/Dockerfile"]);
        files.read(&mut Discard).unwrap();
    }

    #[test]
    fn bad_dockerignore_files_are_refused_clearly() {
        let (tmp, root) = context();
        write(&root.join(".dockerignore"), "ok\n[oops\n");
        let error = ContextFiles::walk(&root, "Dockerfile").unwrap_err().to_string();
        assert!(error.contains(".dockerignore line 2"), "{error}");
        fs::remove_file(root.join(".dockerignore")).unwrap();
        write(&tmp.path().join("secret"), "/etc/shadow content\n[\n");
        std::os::unix::fs::symlink(tmp.path().join("secret"), root.join(".dockerignore")).unwrap();
        let error = ContextFiles::walk(&root, "Dockerfile").unwrap_err().to_string();
        assert!(error.contains("is a symlink"), "{error}");
        assert!(!error.contains("shadow"), "{error}");
    }

    #[test]
    fn the_limit_counts_every_sent_file_and_stops_the_walk() {
        let (_tmp, root) = context();
        fs::create_dir_all(root.join(".big")).unwrap();
        // Sparse: large on paper, nothing on disk, never read.
        File::create(root.join(".big/blob")).unwrap().set_len(MAX_CONTEXT_BYTES).unwrap();
        let error = ContextFiles::walk(&root, "Dockerfile").unwrap_err();
        assert!(matches!(error, ContextError::TooLarge { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains(&root.display().to_string()) && message.contains("256 MiB"), "{message}");
        write(&root.join(".dockerignore"), ".big\n");
        let files = ContextFiles::walk(&root, "Dockerfile").unwrap();
        assert!(files.counted_bytes() < 4 * ENTRY_BYTES, "{}", files.counted_bytes());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let (_tmp, root) = context();
        let mut deep = root.clone();
        for _ in 0..=MAX_CONTEXT_DEPTH {
            deep.push("d");
        }
        fs::create_dir_all(&deep).unwrap();
        let error = ContextFiles::walk(&root, "Dockerfile").unwrap_err();
        assert!(matches!(error, ContextError::TooDeep { .. }), "{error}");
    }

    #[test]
    fn the_dockerfile_must_be_inside_and_present() {
        let (_tmp, root) = context();
        assert!(matches!(ContextFiles::walk(&root, "../Dockerfile"), Err(ContextError::DockerfileOutside(_))));
        assert!(matches!(ContextFiles::walk(&root, "/etc/passwd"), Err(ContextError::DockerfileOutside(_))));
        assert!(matches!(ContextFiles::walk(&root, "Missing"), Err(ContextError::DockerfileMissing { .. })));
    }
}
