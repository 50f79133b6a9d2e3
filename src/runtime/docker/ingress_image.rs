//! The ingress image, built by the engine from the running tenantd itself: no registry is
//! needed, and the ingress runs exactly the code of the tenantd that made it. The context is
//! `FROM scratch` with the program, and, for a dynamically linked build, its ELF interpreter
//! and the shared libraries this process has mapped (the same ones the program loads), at the
//! paths they have on the host.
//!
//! Written by hand: reading one ELF header field and `/proc/self/maps` is a few lines, and no
//! crate builds a minimal image from a running program.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use crate::render::ingress::INGRESS_UID;

/// Set to the path of a tenantd binary to build the ingress from it instead of the running
/// program (a program embedding tenantd's library, such as a test, is not tenantd).
pub const PROGRAM_ENV: &str = "TENANTD_INGRESS_PROGRAM";

/// The program the ingress image is made from.
fn program() -> PathBuf {
    std::env::var_os(PROGRAM_ENV).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/proc/self/exe"))
}

/// The build context (a tar archive) of the ingress image.
pub(super) fn context() -> io::Result<Vec<u8>> {
    let program = std::fs::read(program())?;
    let mut files: BTreeSet<PathBuf> = mapped_libraries()?;
    let interpreter = interpreter(&program);
    if let Some(i) = &interpreter {
        files.insert(PathBuf::from(i));
    }
    let mut dirs: Vec<String> = files
        .iter()
        .filter_map(|f| f.parent())
        .map(|p| p.display().to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    dirs.retain(|d| !d.is_empty());
    let dockerfile = format!(
        "FROM scratch\nCOPY rootfs/ /\n{}USER {INGRESS_UID}:{INGRESS_UID}\nENTRYPOINT [\"/tenantd\"]\n",
        if dirs.is_empty() { String::new() } else { format!("ENV LD_LIBRARY_PATH={}\n", dirs.join(":")) }
    );
    let mut tar = tar::Builder::new(Vec::new());
    append(&mut tar, Path::new("Dockerfile"), dockerfile.as_bytes(), 0o644)?;
    append(&mut tar, Path::new("rootfs/tenantd"), &program, 0o755)?;
    for f in &files {
        // The content behind the name (a link on the host becomes a plain file in the image).
        let bytes = std::fs::read(f)?;
        let inside = Path::new("rootfs").join(f.strip_prefix("/").unwrap_or(f));
        append(&mut tar, &inside, &bytes, 0o755)?;
    }
    tar.into_inner()
}

fn append(tar: &mut tar::Builder<Vec<u8>>, path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(bytes.len() as u64);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, path, bytes)
}

/// The shared libraries this process has mapped (`/proc/self/maps`), by the paths they were
/// loaded from.
fn mapped_libraries() -> io::Result<BTreeSet<PathBuf>> {
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    Ok(maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/') && (p.ends_with(".so") || p.contains(".so.")))
        .map(PathBuf::from)
        .collect())
}

/// The ELF interpreter a dynamically linked program names (`PT_INTERP`); `None` for a static one.
fn interpreter(elf: &[u8]) -> Option<String> {
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| elf.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
    let u64_at = |o: usize| elf.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()));
    // 64-bit little-endian ELF only, as tenantd is built.
    if elf.get(0..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let (phoff, phentsize, phnum) = (u64_at(0x20)? as usize, u16_at(0x36)? as usize, u16_at(0x38)? as usize);
    (0..phnum).find_map(|i| {
        let ph = phoff + i * phentsize;
        if u32_at(ph)? != 3 {
            return None;
        }
        let (offset, size) = (u64_at(ph + 8)? as usize, u64_at(ph + 32)? as usize);
        let raw = elf.get(offset..offset + size)?;
        Some(String::from_utf8_lossy(raw.split(|b| *b == 0).next()?).into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_holds_the_program_and_what_it_loads() {
        let ctx = context().unwrap();
        let mut archive = tar::Archive::new(ctx.as_slice());
        let names: Vec<String> =
            archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert!(names.contains(&"Dockerfile".to_string()), "{names:?}");
        assert!(names.contains(&"rootfs/tenantd".to_string()), "{names:?}");
        let own = std::fs::read("/proc/self/exe").unwrap();
        if let Some(interp) = interpreter(&own) {
            assert!(names.iter().any(|n| n == &format!("rootfs{interp}")), "{interp} missing from {names:?}");
            assert!(names.iter().any(|n| n.contains("libc.so")), "{names:?}");
        }
    }
}
