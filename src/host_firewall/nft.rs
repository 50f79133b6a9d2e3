//! Running `nft -f -`: one ruleset in, one atomic transaction, the reason on failure.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::FirewallError;

/// The program, looked up in `PATH` (systemd's default path includes `/usr/sbin`).
const NFT: &str = "nft";
/// A transaction of a few thousand set elements takes milliseconds; this only bounds a hang.
const NFT_TIMEOUT: Duration = Duration::from_secs(20);

/// Feeds `ruleset` to `nft -f -`. Either all of it is in force afterwards or none of it.
pub(super) async fn apply(table: &str, ruleset: &str) -> Result<(), FirewallError> {
    let mut child = tokio::process::Command::new(NFT)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| FirewallError::Spawn { source })?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let run = async {
        // A write error means nft exited early; its exit status and stderr say why.
        let written = stdin.write_all(ruleset.as_bytes()).await;
        drop(stdin);
        let output = child.wait_with_output().await.map_err(|source| FirewallError::Spawn { source })?;
        if output.status.success() {
            return written.map_err(|source| FirewallError::Spawn { source });
        }
        Err(FirewallError::Refused {
            table: table.to_string(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    };
    tokio::time::timeout(NFT_TIMEOUT, run).await.map_err(|_| FirewallError::Timeout { secs: NFT_TIMEOUT.as_secs() })?
}
