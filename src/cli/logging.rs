//! Where log lines go and how they read: stderr, as text or one JSON object per line; under
//! journald with the `<N>` priority prefix of sd-daemon(3), so `journalctl -p warning` filters
//! by level. The formatting is tracing-subscriber's own (text and JSON); the prefix is the one
//! thing written here, since no formatter of that crate knows journald.

use std::ffi::OsStr;
use std::io::IsTerminal;

use clap::ValueEnum;
use tracing::{Level, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{self, FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::status::TRANSITION_TARGET;

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `LEVEL target: message key=value…`, with a timestamp unless journald stamps it.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the event's
    /// fields at the top level.
    Json,
}

/// Installs the process's subscriber. Logs go to stderr: `warn` and up for one-shot commands
/// (which report each tenant on stdout, so tenants' phase changes are left out), `info` for the
/// daemon; `TENANTD_LOG` (an `EnvFilter` directive) overrides either. Under journald (see
/// [`under_journald`]) text lines carry no timestamp or colour, since the journal stamps them,
/// and every line starts with its priority.
pub fn init(daemon: bool, format: LogFormat) {
    let default = if daemon { "info".to_string() } else { format!("warn,{TRANSITION_TARGET}=off") };
    let filter = EnvFilter::try_from_env("TENANTD_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let journald = under_journald(std::env::var_os("JOURNAL_STREAM").as_deref(), stderr_identity());
    let colour =
        !journald && std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let layer = layer(format, journald, colour, std::io::stderr);
    // A second initialisation (tests calling `main` twice) keeps the first.
    let _ = tracing_subscriber::registry().with(layer.with_filter(filter)).try_init();
}

/// The formatting layer for `format`, writing to `writer`.
fn layer<W>(format: LogFormat, journald: bool, colour: bool, writer: W) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let base = fmt::layer().with_writer(writer).with_ansi(colour);
    match (format, journald) {
        (LogFormat::Text, false) => base.boxed(),
        (LogFormat::Text, true) => base.event_format(Prioritized(fmt::format().without_time())).boxed(),
        (LogFormat::Json, journald) => {
            let json = fmt::format().json().flatten_event(true).with_current_span(false).with_span_list(false);
            let base = base.fmt_fields(JsonFields::new());
            match journald {
                false => base.event_format(json).boxed(),
                true => base.event_format(Prioritized(json)).boxed(),
            }
        }
    }
}

/// Whether stderr is the journal's stream: `JOURNAL_STREAM` (`<device>:<inode>`, both decimal,
/// set by systemd for a service whose output goes to the journal) names the very file stderr
/// is. A variable inherited by a process whose stderr went elsewhere (a shell started from a
/// service, a redirect) does not count, as systemd.exec(5) says.
pub fn under_journald(journal_stream: Option<&OsStr>, stderr: Option<(u64, u64)>) -> bool {
    let Some((device, inode)) = journal_stream.and_then(OsStr::to_str).and_then(|v| v.split_once(':')) else {
        return false;
    };
    match (device.parse::<u64>(), inode.parse::<u64>(), stderr) {
        (Ok(device), Ok(inode), Some(identity)) => (device, inode) == identity,
        _ => false,
    }
}

/// The device and inode of the file stderr is, if it can be told.
fn stderr_identity() -> Option<(u64, u64)> {
    let stat = rustix::fs::fstat(std::io::stderr()).ok()?;
    Some((stat.st_dev, stat.st_ino))
}

/// The syslog priority of a level, as sd-daemon(3) prefixes it: `SD_ERR` 3, `SD_WARNING` 4,
/// `SD_INFO` 6, `SD_DEBUG` 7.
pub fn journal_priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// A formatter that starts each line with `<N>`, N the event's priority, then formats it as the
/// inner one does. journald takes the prefix off and stores N as the entry's `PRIORITY`.
struct Prioritized<F>(F);

impl<S, N, F> FormatEvent<S, N> for Prioritized<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "<{}>", journal_priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn journald_is_the_stream_named_by_journal_stream_and_no_other() {
        let var = |s: &str| Some(OsStr::new(s).to_owned());
        assert!(under_journald(var("8:12345").as_deref(), Some((8, 12345))));
        assert!(!under_journald(var("8:12345").as_deref(), Some((8, 54321))), "stderr went elsewhere");
        assert!(!under_journald(var("8:12345").as_deref(), None));
        assert!(!under_journald(None, Some((8, 12345))));
        for bad in ["", "8", "8:", ":1", "a:b", "8:12345:1", "-1:3"] {
            assert!(!under_journald(var(bad).as_deref(), Some((8, 12345))), "{bad:?}");
        }
    }

    /// What a subscriber with `layer(format, journald, false, …)` writes for one event of each
    /// level from error to debug.
    fn lines(format: LogFormat, journald: bool) -> Vec<String> {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let writer = move || Sink(sink.clone());
        let subscriber =
            Registry::default().with(layer(format, journald, false, writer).with_filter(EnvFilter::new("debug")));
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(tenant = "acme", "an error");
            tracing::warn!(tenant = "acme", "a warning");
            tracing::info!(tenant = "acme", "some news");
            tracing::debug!(tenant = "acme", "a detail");
        });
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_string).collect()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn under_journald_each_line_starts_with_its_priority_and_carries_no_timestamp() {
        let lines = lines(LogFormat::Text, true);
        let prefixes: Vec<&str> = lines.iter().map(|l| &l[..3]).collect();
        assert_eq!(prefixes, ["<3>", "<4>", "<6>", "<7>"], "{lines:?}");
        assert!(lines[1].starts_with("<4> WARN ") && lines[1].contains("a warning tenant=\"acme\""), "{lines:?}");
        let plain = self::lines(LogFormat::Text, false);
        assert!(
            plain.iter().all(|l| !l.starts_with('<') && l.as_bytes()[..4].iter().all(u8::is_ascii_digit)),
            "{plain:?}"
        );
    }

    #[test]
    fn json_lines_are_one_object_each_with_the_fields_at_the_top() {
        for journald in [false, true] {
            let lines = lines(LogFormat::Json, journald);
            assert_eq!(lines.len(), 4, "{lines:?}");
            for (line, (level, priority)) in lines.iter().zip([("ERROR", 3), ("WARN", 4), ("INFO", 6), ("DEBUG", 7)]) {
                let json = match journald {
                    true => line.strip_prefix(&format!("<{priority}>")).unwrap_or_else(|| panic!("{line}")),
                    false => line.as_str(),
                };
                let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{line}: {e}"));
                assert_eq!((v["level"].as_str(), v["tenant"].as_str()), (Some(level), Some("acme")), "{line}");
                assert!(v["message"].is_string() && v["timestamp"].is_string() && v["target"].is_string(), "{line}");
            }
        }
    }
}
