//! The build-context digest of earlier releases, kept only to recognise the images they built.
//!
//! Earlier releases digested every regular file (its path, executable bit and content) and
//! symlink below the context, skipping `.git`, `target` and dot-directories and ignoring
//! `.dockerignore`, then the Dockerfile; their image tags carry that digest. Today's digest covers
//! exactly what is sent (see `context_files`), so the same context has another tag now. A
//! container that an earlier release built from a context whose files still give its tag's
//! digest runs what this release would build from the same files: it is kept, not rebuilt and
//! replaced, when tenantd is upgraded. Any edit of the context gives it today's tag.
//!
//! Read as safely as today's walk: directories and files are opened relative to their parent
//! without following symlinks, files without blocking, and anything unexpected (a limit passed,
//! a file that cannot be read, a Dockerfile behind a symlink) gives no digest at all: the
//! container is then replaced as it would be without this module.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, CWD};
use sha2::{Digest, Sha256};

use super::context_files::{open_dir, open_file, MAX_CONTEXT_BYTES, MAX_CONTEXT_DEPTH};

/// What the digest covers of one entry.
enum Entry {
    File { executable: bool, content: [u8; 32] },
    Symlink { target: Vec<u8> },
}

/// The digest an earlier release gave the context at `root` (canonical) built with
/// `dockerfile`, or `None` when it cannot be told.
pub fn earlier_context_digest(root: &Path, dockerfile: &str) -> Option<String> {
    let root_fd = open_dir(CWD, root.as_os_str().as_bytes()).ok()?;
    let mut entries = Vec::new();
    let mut total = 0u64;
    walk(&root_fd, &mut Vec::new(), 0, &mut entries, &mut total)?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut outer = Sha256::new();
    for (relative, entry) in &entries {
        outer.update((relative.len() as u64).to_le_bytes());
        outer.update(relative);
        match entry {
            Entry::File { executable, content } => {
                outer.update([b'f', u8::from(*executable)]);
                outer.update(content);
            }
            Entry::Symlink { target } => {
                outer.update([b'l']);
                outer.update((target.len() as u64).to_le_bytes());
                outer.update(target);
            }
        }
    }
    outer.update([b'D']);
    outer.update((dockerfile.len() as u64).to_le_bytes());
    outer.update(dockerfile.as_bytes());
    outer.update(dockerfile_digest(&root_fd, dockerfile)?);
    Some(hex::encode(outer.finalize()))
}

fn walk(
    dir: &OwnedFd,
    relative: &mut Vec<u8>,
    depth: usize,
    out: &mut Vec<(Vec<u8>, Entry)>,
    total: &mut u64,
) -> Option<()> {
    if depth > MAX_CONTEXT_DEPTH {
        return None;
    }
    for entry in rustix::fs::Dir::read_from(dir).ok()? {
        let entry = entry.ok()?;
        let name = entry.file_name().to_bytes().to_vec();
        if name == b"." || name == b".." {
            continue;
        }
        let stat = rustix::fs::statat(dir, OsStr::from_bytes(&name), AtFlags::SYMLINK_NOFOLLOW).ok()?;
        let len = relative.len();
        if !relative.is_empty() {
            relative.push(b'/');
        }
        relative.extend_from_slice(&name);
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory if name != b"target" && !name.starts_with(b".") => {
                let child = open_dir(dir, &name).ok()?;
                walk(&child, relative, depth + 1, out, total)?;
            }
            FileType::RegularFile => {
                *total += u64::try_from(stat.st_size).ok()?;
                if *total > MAX_CONTEXT_BYTES {
                    return None;
                }
                let content = file_digest(open_file(dir, &name).ok()?).ok()?;
                out.push((relative.clone(), Entry::File { executable: stat.st_mode & 0o111 != 0, content }));
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(dir, OsStr::from_bytes(&name), Vec::new()).ok()?.into_bytes();
                out.push((relative.clone(), Entry::Symlink { target }));
            }
            _ => {}
        }
        relative.truncate(len);
    }
    Some(())
}

/// The Dockerfile's content digest, reached through directories only (never a symlink).
fn dockerfile_digest(root: &OwnedFd, dockerfile: &str) -> Option<[u8; 32]> {
    let parts: Vec<&str> = dockerfile.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let (file, dirs) = parts.split_last()?;
    let mut here: Option<OwnedFd> = None;
    for d in dirs {
        if *d == ".." {
            return None;
        }
        let next = open_dir(here.as_ref().unwrap_or(root), d.as_bytes()).ok()?;
        here = Some(next);
    }
    file_digest(open_file(here.as_ref().unwrap_or(root), file.as_bytes()).ok()?).ok()
}

fn file_digest(mut file: std::fs::File) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher)?;
    Ok(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// The digest the release before `.dockerignore` support gave this context, as the start of
    /// its image tag (`tenantd.local/ctx:f38d7eebdd512b9f`, read off that release's `plan`).
    #[test]
    fn the_earlier_digest_is_the_one_earlier_releases_tagged_images_with() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = tmp.path().join("ctx");
        for d in ["sub/target", ".hidden", "target"] {
            fs::create_dir_all(ctx.join(d)).unwrap();
        }
        fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
        fs::write(ctx.join("a.txt"), "one\n").unwrap();
        fs::write(ctx.join("sub/run.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(ctx.join("sub/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(ctx.join(".hidden/x"), "skip\n").unwrap();
        fs::write(ctx.join("target/y"), "skip\n").unwrap();
        fs::write(ctx.join("sub/target/z"), "skip\n").unwrap();
        std::os::unix::fs::symlink("a.txt", ctx.join("link")).unwrap();
        fs::write(ctx.join(".dockerignore"), "*.log\n").unwrap();
        fs::write(ctx.join("debug.log"), "log\n").unwrap();
        let digest = earlier_context_digest(&ctx, "Dockerfile").unwrap();
        assert!(digest.starts_with("f38d7eebdd512b9f"), "{digest}");

        // What earlier releases skipped changes nothing; anything else does.
        fs::write(ctx.join("target/y"), "edited\n").unwrap();
        assert_eq!(earlier_context_digest(&ctx, "Dockerfile").unwrap(), digest);
        fs::write(ctx.join("a.txt"), "two\n").unwrap();
        assert_ne!(earlier_context_digest(&ctx, "Dockerfile").unwrap(), digest);
        assert_eq!(earlier_context_digest(&ctx, "missing/Dockerfile"), None);
    }
}
