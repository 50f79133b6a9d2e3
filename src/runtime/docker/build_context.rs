//! The build context as the engine's build API takes it: a tar stream of exactly the entries a
//! [`ContextFiles`] walk decided, written in chunks to a bounded channel while the files are read,
//! so memory stays bounded whatever the context's size.
//!
//! The archive's end is written only once the digest of what was streamed equals the digest the
//! image's tag carries. A context that changed after it was digested (or a file that cannot be
//! read) ends the stream with an error instead: the request is cut short, the engine never sees
//! a whole archive, and nothing is built under a tag that would claim the wrong content.

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use crate::spec::{ContextEntry, ContextError, ContextFiles, ContextSink};

/// The size of the chunks sent to the engine.
pub(super) const CHUNK_BYTES: usize = 64 << 10;

/// Chunks read ahead of the engine: with [`CHUNK_BYTES`], the memory a build's stream holds.
pub(super) const CHUNKS_AHEAD: usize = 4;

/// One piece of the request body; an error cuts the request short.
pub(super) type Chunk = Result<Bytes, io::Error>;

/// Why the context was not streamed whole.
#[derive(Debug, thiserror::Error)]
pub(super) enum StreamError {
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error(
        "the build context changed after it was digested (the image tag is for digest {}…, the \
         files read now give {}…); nothing was built, and the next pass builds the new content",
        &expected[..expected.len().min(16)],
        &actual[..actual.len().min(16)]
    )]
    Changed { expected: String, actual: String },
}

impl StreamError {
    /// True when the engine stopped taking the stream: its own answer says why.
    pub(super) fn is_engine_side(&self) -> bool {
        matches!(self, StreamError::Context(ContextError::Sink(_)))
    }
}

/// Streams `files` as a tar archive into `chunks`, waiting at most `patience` for the engine to
/// take each chunk. The archive is finished only when what was read digests to `expected`;
/// otherwise an error chunk ends the stream.
pub(super) fn stream(
    files: &ContextFiles,
    expected: &str,
    chunks: mpsc::Sender<Chunk>,
    patience: Duration,
) -> Result<(), StreamError> {
    let writer = ChannelWriter {
        chunks: Some(chunks),
        buffer: BytesMut::with_capacity(CHUNK_BYTES),
        runtime: tokio::runtime::Handle::current(),
        patience,
    };
    let mut archive = TarSink(tar::Builder::new(writer));
    let failure = match files.read(&mut archive) {
        Ok(actual) if actual == expected => None,
        Ok(actual) => Some(StreamError::Changed { expected: expected.to_string(), actual }),
        Err(e) => Some(StreamError::Context(e)),
    };
    if let Some(failure) = failure {
        // Before the builder is dropped, which would write the archive's end.
        archive.0.get_mut().abort(&failure);
        return Err(failure);
    }
    let mut writer = archive.0.into_inner().map_err(|e| StreamError::Context(ContextError::Sink(e)))?;
    writer.send_buffer().map_err(|e| StreamError::Context(ContextError::Sink(e)))?;
    Ok(())
}

/// Writes each entry as a tar entry: owner root, the walked mode and mtime.
struct TarSink(tar::Builder<ChannelWriter>);

fn header(entry: &ContextEntry, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(entry.mode);
    header.set_mtime(entry.mtime);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(size);
    header
}

fn path(entry: &ContextEntry) -> &Path {
    Path::new(std::ffi::OsStr::from_bytes(&entry.path))
}

impl ContextSink for TarSink {
    fn dir(&mut self, entry: &ContextEntry) -> io::Result<()> {
        let mut header = header(entry, tar::EntryType::Directory, 0);
        self.0.append_data(&mut header, path(entry), io::empty())
    }

    fn file(&mut self, entry: &ContextEntry, content: &mut dyn io::Read) -> io::Result<()> {
        let size = match entry.kind {
            crate::spec::EntryKind::File { size } => size,
            _ => 0,
        };
        let mut header = header(entry, tar::EntryType::Regular, size);
        self.0.append_data(&mut header, path(entry), content)
    }

    fn symlink(&mut self, entry: &ContextEntry, target: &[u8]) -> io::Result<()> {
        let mut header = header(entry, tar::EntryType::Symlink, 0);
        self.0.append_link(&mut header, path(entry), std::ffi::OsStr::from_bytes(target))
    }
}

/// A writer that sends full chunks down a bounded channel from a blocking thread.
struct ChannelWriter {
    /// `None` once aborted: nothing more is sent.
    chunks: Option<mpsc::Sender<Chunk>>,
    buffer: BytesMut,
    runtime: tokio::runtime::Handle,
    patience: Duration,
}

impl ChannelWriter {
    fn send(&mut self, chunk: Chunk) -> io::Result<()> {
        let Some(chunks) = &self.chunks else {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the build context stream was ended"));
        };
        let sent = self.runtime.block_on(tokio::time::timeout(self.patience, chunks.send(chunk)));
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(io::Error::new(io::ErrorKind::BrokenPipe, "the engine stopped taking the build context")),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the engine took no part of the build context for {} s", self.patience.as_secs()),
            )),
        }
    }

    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = self.buffer.split().freeze();
        self.send(Ok(chunk))
    }

    /// Ends the stream with an error (what was buffered is dropped, never the archive's end).
    fn abort(&mut self, why: &StreamError) {
        self.buffer.clear();
        if let Some(chunks) = self.chunks.take() {
            // The engine may already be gone; then there is no one to tell.
            let error = io::Error::other(why.to_string());
            drop(self.runtime.block_on(tokio::time::timeout(self.patience, chunks.send(Err(error)))));
        }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.chunks.is_none() {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the build context stream was ended"));
        }
        let n = data.len().min(CHUNK_BYTES - self.buffer.len());
        self.buffer.extend_from_slice(&data[..n]);
        if self.buffer.len() == CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Chunks go out when full or at the end: a flush mid-archive sends nothing early.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::context_digest;

    fn context() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        for d in [".git", "src", "mnt/empty"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join(".git/HEAD"), "x").unwrap();
        std::fs::write(dir.path().join("src/main.c"), "int main(){}").unwrap();
        std::fs::write(dir.path().join("src/big"), vec![7u8; 3 * CHUNK_BYTES + 5]).unwrap();
        std::os::unix::fs::symlink("src/main.c", dir.path().join("link")).unwrap();
        dir
    }

    /// Runs [`stream`] and collects what it sent: the bytes, and whether the stream ended in an
    /// error chunk.
    async fn run(root: &Path, expected: String) -> (Result<(), StreamError>, Vec<u8>, bool) {
        let files = ContextFiles::walk(root, "Dockerfile").unwrap();
        let (tx, mut rx) = mpsc::channel(CHUNKS_AHEAD);
        let producer = tokio::task::spawn_blocking(move || stream(&files, &expected, tx, Duration::from_secs(10)));
        let (mut bytes, mut errored) = (Vec::new(), false);
        while let Some(chunk) = rx.recv().await {
            match chunk {
                Ok(chunk) => {
                    assert!(chunk.len() <= CHUNK_BYTES);
                    bytes.extend_from_slice(&chunk);
                }
                Err(_) => errored = true,
            }
        }
        (producer.await.unwrap(), bytes, errored)
    }

    #[tokio::test]
    async fn the_archive_holds_what_the_walk_decided_and_ends_when_the_digest_matches() {
        let dir = context();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let digest = context_digest(&root, "Dockerfile").unwrap();
        let (result, bytes, errored) = run(&root, digest).await;
        result.unwrap();
        assert!(!errored);
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entries: Vec<(String, tar::EntryType, u64, u32)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (e.path().unwrap().display().to_string(), h.entry_type(), h.size().unwrap(), h.uid().unwrap() as u32)
            })
            .collect();
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [".git", ".git/HEAD", "Dockerfile", "link", "mnt", "mnt/empty", "src", "src/big", "src/main.c"]
        );
        assert_eq!(entries[3].1, tar::EntryType::Symlink);
        assert_eq!(entries[7].2, 3 * CHUNK_BYTES as u64 + 5);
        assert!(entries.iter().all(|e| e.3 == 0), "owned by root");
        assert!(bytes.ends_with(&[0u8; 1024]), "the archive is finished");
    }

    #[tokio::test]
    async fn a_context_that_changed_since_its_digest_ends_in_an_error_not_an_archive() {
        let dir = context();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let digest = context_digest(&root, "Dockerfile").unwrap();
        std::fs::write(root.join(".git/HEAD"), "y").unwrap();
        let (result, bytes, errored) = run(&root, digest).await;
        assert!(matches!(result, Err(StreamError::Changed { .. })), "{result:?}");
        assert!(errored, "the stream ends in an error");
        assert!(!bytes.ends_with(&[0u8; 1024]), "the archive's end is never sent");
    }
}
