//! The tar archive of a build context, as the engine's build API takes it.

use std::io;
use std::path::{Component, Path};

/// Directories never sent to the engine: version control and build output.
const SKIPPED_DIRS: &[&str] = &[".git", "target"];

/// Why a context could not be archived, with the path concerned.
#[derive(Debug, thiserror::Error)]
pub(super) enum ContextError {
    #[error("dockerfile {0:?} must be a relative path inside the context")]
    DockerfileOutside(String),
    #[error("dockerfile {0} does not exist in the context")]
    DockerfileMissing(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// Archives `context` (skipping `.git` and `target` directories at any depth; symlinks are
/// stored as links, never followed), after checking that `dockerfile` is inside it.
pub(super) fn archive(context: &Path, dockerfile: &str) -> Result<Vec<u8>, ContextError> {
    let relative = Path::new(dockerfile);
    if relative.is_absolute() || relative.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(ContextError::DockerfileOutside(dockerfile.to_string()));
    }
    if !context.join(relative).is_file() {
        return Err(ContextError::DockerfileMissing(context.join(relative).display().to_string()));
    }
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    add_dir(&mut builder, context, Path::new(""))?;
    builder.into_inner().map_err(|source| ContextError::Read { path: context.display().to_string(), source })
}

fn add_dir(builder: &mut tar::Builder<Vec<u8>>, root: &Path, relative: &Path) -> Result<(), ContextError> {
    let dir = root.join(relative);
    let read = |source| ContextError::Read { path: dir.display().to_string(), source };
    let mut entries = std::fs::read_dir(&dir).map_err(read)?.collect::<Result<Vec<_>, _>>().map_err(read)?;
    // A stable order gives the same archive, and the same build cache, for the same files.
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let path_in_archive = relative.join(&name);
        let file_type = entry
            .file_type()
            .map_err(|source| ContextError::Read { path: entry.path().display().to_string(), source })?;
        if file_type.is_dir() {
            if SKIPPED_DIRS.iter().any(|s| name == *s) {
                continue;
            }
            // Directories are entries of their own, so empty ones (mount points) survive.
            builder
                .append_dir(&path_in_archive, entry.path())
                .map_err(|source| ContextError::Read { path: entry.path().display().to_string(), source })?;
            add_dir(builder, root, &path_in_archive)?;
        } else {
            builder
                .append_path_with_name(entry.path(), &path_in_archive)
                .map_err(|source| ContextError::Read { path: entry.path().display().to_string(), source })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(archive: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(archive);
        a.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect()
    }

    #[test]
    fn skips_git_and_target_and_checks_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        for d in [".git", "target", "src/target", "src", "mnt/empty"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join(".git/HEAD"), "x").unwrap();
        std::fs::write(dir.path().join("target/big"), "x").unwrap();
        std::fs::write(dir.path().join("src/main.c"), "int main(){}").unwrap();
        let a = archive(dir.path(), "Dockerfile").unwrap();
        assert_eq!(names(&a), vec!["Dockerfile", "mnt", "mnt/empty", "src", "src/main.c"]);

        assert!(matches!(archive(dir.path(), "../Dockerfile"), Err(ContextError::DockerfileOutside(_))));
        assert!(matches!(archive(dir.path(), "Missing"), Err(ContextError::DockerfileMissing(_))));
    }
}
