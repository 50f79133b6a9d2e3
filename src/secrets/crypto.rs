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
    /// Reads an age identity file (`AGE-SECRET-KEY-1…` lines; `#` comments allowed).
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let err = |message: String| CryptoError::IdentityFile { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
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

    #[test]
    fn an_identity_file_is_read_and_a_bad_one_is_named_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let (text, recipient) = keygen();
        let path = dir.path().join("key.txt");
        std::fs::write(&path, text.expose()).unwrap();
        let ids = Identities::load(&path).unwrap();
        let a = armored(encrypt(b"v", &[recipient]).unwrap());
        assert_eq!(ids.decrypt(&a).unwrap().expose(), b"v");

        std::fs::write(&path, "AGE-SECRET-KEY-1NOTAKEY\n").unwrap();
        let e = Identities::load(&path).unwrap_err().to_string();
        assert!(e.contains("line 1") && !e.contains("NOTAKEY"), "{e}");
        std::fs::write(&path, "# nothing\n").unwrap();
        assert!(matches!(Identities::load(&path), Err(CryptoError::NoIdentity { .. })));
        assert!(matches!(encrypt(b"v", &["ssh-rsa AAA".into()]), Err(CryptoError::Recipient(_))));
    }
}
