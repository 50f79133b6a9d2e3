//! `tenantd logs TENANT`: a tenant container's output, stdout to stdout and stderr to stderr
//! (on a cluster, which keeps one stream per container, all of it to stdout).

use std::io::ErrorKind;

use futures_util::StreamExt;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::config::DaemonConfig;
use crate::runtime::{Family, LogChunk, LogRequest, LogSince};
use crate::spec::SpecDuration;

/// What `tenantd logs` was asked for.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub tail: Option<u64>,
    pub since: Option<String>,
    pub timestamps: bool,
}

/// Prints the logs; with `follow`, until the container stops (on a cluster: until its pod
/// goes) or Ctrl-C (both exit 0).
pub async fn run(cfg: &DaemonConfig, tenant: &str, container: Option<&str>, opts: LogOptions) -> anyhow::Result<u8> {
    // Bad input is refused before the engine is asked anything.
    let since = opts.since.as_deref().map(parse_since).transpose()?;
    let runtime = super::connect(cfg).await?;
    let target = super::target::choose(cfg, runtime.as_ref(), tenant, container).await?;
    let request = LogRequest { follow: opts.follow, tail: opts.tail, since, timestamps: opts.timestamps };
    let mut chunks = match runtime.family() {
        Family::Containers(engine) => engine.logs(&target.container.id, &request).await?,
        Family::Cluster(cluster) => cluster.pod_logs(&target.tenant, &target.container.name, &request).await?,
    };
    let (mut stdout, mut stderr) = (tokio::io::stdout(), tokio::io::stderr());
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let chunk = tokio::select! {
            chunk = chunks.next() => chunk,
            _ = &mut interrupted => return Ok(0),
        };
        let written = match chunk {
            None => return Ok(0),
            Some(Ok(LogChunk::Stdout(bytes))) => write(&mut stdout, &bytes).await,
            Some(Ok(LogChunk::Stderr(bytes))) => write(&mut stderr, &bytes).await,
            Some(Err(e)) => return Err(e.into()),
        };
        match written {
            Ok(()) => {}
            // The reader went away (`tenantd logs acme | head`): nothing more is wanted.
            Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(0),
            Err(e) => return Err(anyhow::Error::new(e).context("cannot write the logs")),
        }
    }
}

async fn write(out: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(bytes).await?;
    out.flush().await
}

/// `--since`: an RFC 3339 time, or a duration (`30s`, `10m`, `1h`) ago.
pub fn parse_since(text: &str) -> anyhow::Result<LogSince> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(LogSince::At(at.unix_timestamp()));
    }
    match SpecDuration::try_from(text.to_string()) {
        Ok(ago) => Ok(LogSince::Ago(ago.get())),
        Err(_) => anyhow::bail!(
            "--since {text:?} is neither an RFC 3339 time (2026-01-02T03:04:05Z) nor a duration ago (30s, 10m, 1h)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn since_takes_a_time_or_a_duration_ago() {
        let now = datetime!(2026-12-01 12:00:00 UTC);
        let at = |text| parse_since(text).unwrap().unix_seconds(now);
        assert_eq!(at("2026-12-01T11:00:00Z"), now.unix_timestamp() - 3600);
        assert_eq!(at("2026-12-01T12:00:00+01:00"), now.unix_timestamp() - 3600);
        assert_eq!(at("10m"), now.unix_timestamp() - 600);
        assert_eq!(at("1h"), now.unix_timestamp() - 3600);
        assert_eq!(at("30s"), now.unix_timestamp() - 30);
        assert_eq!(parse_since("10m").unwrap(), LogSince::Ago(std::time::Duration::from_secs(600)));
        assert_eq!(parse_since("1970-01-01T00:01:00Z").unwrap(), LogSince::At(60));
    }

    #[test]
    fn a_bad_since_says_what_is_expected() {
        for bad in ["", "yesterday", "10", "-5m", "2026-12-01", "1h30m"] {
            let e = parse_since(bad).unwrap_err().to_string();
            assert!(e.contains("neither an RFC 3339 time") && e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
