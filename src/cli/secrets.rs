//! `tenantd secrets keygen` and `tenantd secrets encrypt`: make keys and the ciphertext that goes
//! into a spec's `secrets:` section.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

use crate::secrets::{encrypt, keygen};

/// Writes a new identity to `output` (mode 0600, never overwritten) or to stdout; the recipient
/// (public key) goes to stderr so it can be shared.
pub fn run_keygen(output: Option<&Path>) -> anyhow::Result<u8> {
    let (identity, recipient) = keygen();
    match output {
        Some(path) => {
            let mut f =
                std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).with_context(|| {
                    format!("cannot create {} (an existing key is never overwritten)", path.display())
                })?;
            f.write_all(identity.expose()).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("identity written to {}", path.display());
        }
        None => std::io::stdout().write_all(identity.expose())?,
    }
    eprintln!("public key (recipient): {recipient}");
    Ok(0)
}

/// Reads a value from stdin and prints it encrypted to `recipients`, indented for a YAML block
/// scalar (`value: |`). One trailing newline of the input is dropped, as `echo` adds one.
pub fn run_encrypt(recipients: &[String]) -> anyhow::Result<u8> {
    anyhow::ensure!(
        !recipients.is_empty(),
        "give at least one --recipient (an age1… public key), or set [secrets] recipients in the config"
    );
    let mut value = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin().read_to_end(&mut value).context("cannot read the value from stdin")?;
    if value.ends_with(b"\n") {
        value.pop();
        if value.ends_with(b"\r") {
            value.pop();
        }
    }
    anyhow::ensure!(!value.is_empty(), "stdin was empty: nothing to encrypt");
    let armored = encrypt(&value, recipients)?;
    print!("{}", yaml_block(&armored));
    Ok(0)
}

/// `value: |` followed by the armor indented for a secret entry.
fn yaml_block(armored: &str) -> String {
    let mut out = String::from("value: |\n");
    for line in armored.lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_yaml_that_reads_back_as_the_armor() {
        let armored = "-----BEGIN AGE ENCRYPTED FILE-----\nYWJj\n-----END AGE ENCRYPTED FILE-----\n";
        let v: serde_yaml::Value = serde_yaml::from_str(&yaml_block(armored)).unwrap();
        assert_eq!(v["value"].as_str(), Some(armored));
    }
}
