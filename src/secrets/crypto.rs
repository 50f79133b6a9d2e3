//! age encryption of secret values: keys, encryption for `tenantd secrets encrypt`, and
//! decryption that completes in memory before anyone sees a byte of plaintext.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::armor::{ArmoredWriter, Format};
use age::secrecy::ExposeSecret;

use super::Plaintext;
use crate::spec::AgeArmored;

/// Why a key could not be read or a value not encrypted or decrypted. Never carries plaintext.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("cannot read the age identity file {path}: {message}")]
    IdentityFile { path: PathBuf, message: String },
    #[error("the age identity file {path} holds no identity")]
    NoIdentity { path: PathBuf },
    #[error(
        "the age identity file {path} can be read or changed by {who} (mode {mode:04o}): whoever can read it can open every \
         tenant's secrets, so tenantd does not use it; make it readable by its owner only: chmod 600 {path}"
    )]
    IdentityReadable { path: PathBuf, mode: u32, who: &'static str },
    #[error(
        "the age identity file {path} is owned by uid {uid}, not by {expected}: its owner could replace the key, so \
         tenantd does not use it; fix with: chown {expected_uid} {path}"
    )]
    IdentityOwner { path: PathBuf, uid: u32, expected: String, expected_uid: u32 },
    #[error("{0:?} is not an age recipient (expected an `age1…` public key)")]
    Recipient(String),
    #[error("encryption failed: {0}")]
    Encrypt(String),
    #[error("{0}")]
    Decrypt(String),
}

/// The private keys that may open the tenants' secrets (the daemon's `[secrets] identity_file`).
pub struct Identities {
    keys: Vec<Box<dyn age::Identity + Send + Sync>>,
    path: PathBuf,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identities({} from {})", self.keys.len(), self.path.display())
    }
}

impl Identities {
    /// Reads an age identity file (`AGE-SECRET-KEY-1…` lines; `#` comments allowed). Like ssh
    /// with a private key, it refuses a file that anyone but its owner may read, or whose owner
    /// is neither root nor tenantd's own user. One exception: the group may read it when the
    /// group is root's or tenantd's own. That is how a file handed over with systemd's
    /// `LoadCredential=` looks to a service that runs as another user (root's, mode 0440, the
    /// group bits then being the mask of the ACL that lets that user read it), and how
    /// `/etc/tenantd` is shared with a `tenantd` user (`chgrp tenantd`, `g+r`).
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let err = |message: String| CryptoError::IdentityFile { path: path.to_path_buf(), message };
        let text = read_private(path)?;
        let mut keys: Vec<Box<dyn age::Identity + Send + Sync>> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // The parse error names no part of the line, so no key material can leak through it.
            let key = age::x25519::Identity::from_str(line)
                .map_err(|_| err(format!("line {} is not an age X25519 identity (AGE-SECRET-KEY-1…)", n + 1)))?;
            keys.push(Box::new(key));
        }
        if keys.is_empty() {
            return Err(CryptoError::NoIdentity { path: path.to_path_buf() });
        }
        Ok(Self { keys, path: path.to_path_buf() })
    }

    /// Identities from keys in memory (tests and `keygen`).
    pub fn from_keys(keys: Vec<age::x25519::Identity>) -> Self {
        let keys = keys.into_iter().map(|k| Box::new(k) as Box<dyn age::Identity + Send + Sync>).collect();
        Self { keys, path: PathBuf::from("(memory)") }
    }

    /// Decrypts armored ciphertext completely in memory. Truncated, tampered or foreign
    /// ciphertext is an error and yields no plaintext at all.
    pub fn decrypt(&self, armored: &AgeArmored) -> Result<Plaintext, CryptoError> {
        let reader = age::armor::ArmoredReader::new(armored.expose().as_bytes());
        let decryptor = age::Decryptor::new(reader).map_err(|e| CryptoError::Decrypt(describe(&e)))?;
        let mut stream = decryptor
            .decrypt(self.keys.iter().map(|k| k.as_ref() as &dyn age::Identity))
            .map_err(|e| CryptoError::Decrypt(describe(&e)))?;
        let mut buf = Vec::new();
        // Read to the end before handing anything out: the last chunk's tag is what proves the
        // whole value arrived untouched.
        std::io::Read::read_to_end(&mut stream, &mut buf)
            .map_err(|e| CryptoError::Decrypt(format!("the ciphertext is truncated or was altered ({e})")))?;
        Ok(Plaintext::new(buf))
    }
}

/// The text of a private key file, after checking who may read and replace it (on the opened
/// file, not the path). Opened without blocking, so a FIFO put there cannot hang the caller.
fn read_private(path: &Path) -> Result<zeroize::Zeroizing<String>, CryptoError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let err = |message: String| CryptoError::IdentityFile { path: path.to_path_buf(), message };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| err(e.to_string()))?;
    let meta = file.metadata().map_err(|e| err(e.to_string()))?;
    if !meta.file_type().is_file() {
        return Err(err("not a regular file".into()));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != me {
        let expected = if me == 0 { "root".to_string() } else { format!("root or tenantd's user (uid {me})") };
        return Err(CryptoError::IdentityOwner {
            path: path.to_path_buf(),
            uid: meta.uid(),
            expected,
            expected_uid: me,
        });
    }
    let mode = meta.mode() & 0o7777;
    let who = if mode & 0o007 != 0 {
        Some("others")
    } else if mode & 0o070 != 0 && (mode & 0o030 != 0 || !trusted_group(meta.gid())) {
        Some("its group")
    } else {
        None
    };
    if let Some(who) = who {
        return Err(CryptoError::IdentityReadable { path: path.to_path_buf(), mode, who });
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    std::io::Read::read_to_string(&mut file, &mut text).map_err(|e| err(e.to_string()))?;
    Ok(text)
}

/// Root's group, and tenantd's own (the group of a system user made for it, as when it runs
/// as the `tenantd` user), may read a key: no one else is in them.
fn trusted_group(gid: u32) -> bool {
    gid == 0 || gid == rustix::process::getegid().as_raw()
}

fn describe(e: &age::DecryptError) -> String {
    match e {
        age::DecryptError::NoMatchingKeys => {
            "no configured age identity can open it (encrypted to another recipient?)".to_string()
        }
        other => format!("the ciphertext is damaged or was altered ({other})"),
    }
}

/// A new X25519 key pair: the identity file text (secret) and its recipient (public).
pub fn keygen() -> (Plaintext, String) {
    let key = age::x25519::Identity::generate();
    let recipient = key.to_public().to_string();
    let text = format!("# public key: {recipient}\n{}\n", key.to_string().expose_secret());
    (Plaintext::new(text.into_bytes()), recipient)
}

/// Encrypts `value` to every recipient, in age's ASCII armor.
pub fn encrypt(value: &[u8], recipients: &[String]) -> Result<String, CryptoError> {
    let mut parsed: Vec<Box<dyn age::Recipient + Send>> = Vec::new();
    for r in recipients {
        let key = age::x25519::Recipient::from_str(r.trim()).map_err(|_| CryptoError::Recipient(r.clone()))?;
        parsed.push(Box::new(key));
    }
    let encryptor = age::Encryptor::with_recipients(parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient))
        .map_err(|e| CryptoError::Encrypt(e.to_string()))?;
    let mut out = Vec::new();
    let enc = |e: std::io::Error| CryptoError::Encrypt(e.to_string());
    let armor = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(enc)?;
    let mut writer = encryptor.wrap_output(armor).map_err(enc)?;
    writer.write_all(value).map_err(enc)?;
    writer.finish().and_then(|armor| armor.finish()).map_err(enc)?;
    String::from_utf8(out).map_err(|e| CryptoError::Encrypt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Identities, String) {
        let key = age::x25519::Identity::generate();
        let recipient = key.to_public().to_string();
        (Identities::from_keys(vec![key]), recipient)
    }

    fn armored(text: String) -> AgeArmored {
        serde_yaml::from_str(&serde_json::to_string(&text).unwrap()).unwrap()
    }

    #[test]
    fn a_value_round_trips_and_its_armor_passes_the_spec_check() {
        let (ids, recipient) = pair();
        let a = armored(encrypt(b"canary-7f3e", &[recipient]).unwrap());
        assert_eq!(a.armor_problem(), None);
        assert_eq!(ids.decrypt(&a).unwrap().expose(), b"canary-7f3e");
    }

    #[test]
    fn the_wrong_key_is_refused_without_plaintext() {
        let (_, recipient) = pair();
        let (other, _) = pair();
        let a = armored(encrypt(b"canary-7f3e", &[recipient]).unwrap());
        let e = other.decrypt(&a).unwrap_err().to_string();
        assert!(e.contains("no configured age identity"), "{e}");
        assert!(!e.contains("canary"));
    }

    #[test]
    fn a_flipped_bit_and_a_truncation_are_refused() {
        let (ids, recipient) = pair();
        let text = encrypt(&[b'x'; 200], &[recipient]).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Flip one character of the payload (the line before the END line).
        let mut flipped: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let i = flipped.len() - 2;
        let c = if flipped[i].starts_with('A') { 'B' } else { 'A' };
        flipped[i].replace_range(0..1, &c.to_string());
        let e = ids.decrypt(&armored(flipped.join("\n"))).unwrap_err();
        assert!(e.to_string().contains("damaged or was altered") || e.to_string().contains("truncated"), "{e}");
        // Drop the last payload line.
        let mut cut: Vec<&str> = lines.clone();
        cut.remove(cut.len() - 2);
        assert!(ids.decrypt(&armored(cut.join("\n"))).is_err());
    }

    /// Writes a key file readable by its owner only, as `tenantd secrets keygen` does.
    fn write_private(path: &Path, bytes: &[u8]) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, bytes).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn who_may_read_an_identity_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.txt");
        write_private(&path, keygen().0.expose());
        let set = |mode: u32, uid: u32, gid: u32| {
            rustix::fs::chown(&path, Some(rustix::fs::Uid::from_raw(uid)), Some(rustix::fs::Gid::from_raw(gid)))
                .unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            Identities::load(&path).map(drop).map_err(|e| e.to_string())
        };
        // Its owner only; root's group as systemd's LoadCredential= leaves it for another user.
        for mode in [0o400, 0o600, 0o440] {
            assert_eq!(set(mode, 0, 0), Ok(()), "{mode:o}");
        }
        let shown = path.display().to_string();
        for (mode, gid, who) in
            [(0o644, 0, "others"), (0o604, 0, "others"), (0o640, 12345, "its group"), (0o660, 0, "its group")]
        {
            let e = set(mode, 0, gid).unwrap_err();
            assert!(e.contains(&shown) && e.contains(&format!("{mode:04o}")) && e.contains(who), "{e}");
            assert!(e.contains(&format!("chmod 600 {shown}")), "{e}");
        }
        let e = set(0o600, 12345, 0).unwrap_err();
        assert!(e.contains("owned by uid 12345") && e.contains(&shown), "{e}");
        // A FIFO in its place is refused at once, not waited on.
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(Identities::load(&fifo).unwrap_err().to_string().contains("not a regular file"));
    }

    #[test]
    fn an_identity_file_is_read_and_a_bad_one_is_named_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let (text, recipient) = keygen();
        let path = dir.path().join("key.txt");
        write_private(&path, text.expose());
        let ids = Identities::load(&path).unwrap();
        let a = armored(encrypt(b"v", &[recipient]).unwrap());
        assert_eq!(ids.decrypt(&a).unwrap().expose(), b"v");

        write_private(&path, b"AGE-SECRET-KEY-1NOTAKEY\n");
        let e = Identities::load(&path).unwrap_err().to_string();
        assert!(e.contains("line 1") && !e.contains("NOTAKEY"), "{e}");
        write_private(&path, b"# nothing\n");
        assert!(matches!(Identities::load(&path), Err(CryptoError::NoIdentity { .. })));
        assert!(matches!(encrypt(b"v", &["ssh-rsa AAA".into()]), Err(CryptoError::Recipient(_))));
    }
}
