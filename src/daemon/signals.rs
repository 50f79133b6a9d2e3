//! What the daemon is told from outside: stop (SIGTERM, SIGINT) or reload (SIGHUP). The real
//! binary takes them from the operating system; tests send them through a channel, so the
//! daemon can run in-process without signalling the test process itself.

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// A request to the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: stop; tenants keep running.
    Terminate,
    /// SIGINT: stop, as SIGTERM.
    Interrupt,
    /// SIGHUP: read the config file again.
    Hangup,
}

impl Signal {
    /// Whether the daemon stops on it.
    pub fn stops(self) -> bool {
        matches!(self, Signal::Terminate | Signal::Interrupt)
    }
}

/// Where the daemon's signals come from.
pub struct Signals {
    source: Source,
    /// A hangup taken from the channel while only stops were awaited, handed out by the next
    /// `recv` (unix signals keep theirs in their own stream).
    deferred_hangup: bool,
}

enum Source {
    Os { term: tokio::signal::unix::Signal, int: tokio::signal::unix::Signal, hup: tokio::signal::unix::Signal },
    Channel(mpsc::UnboundedReceiver<Signal>),
}

impl Signals {
    /// SIGTERM, SIGINT and SIGHUP of this process. Installing the handlers replaces the default
    /// action (termination) for as long as the process runs.
    pub fn from_os() -> std::io::Result<Self> {
        let source = Source::Os {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        };
        Ok(Self { source, deferred_hangup: false })
    }

    /// Signals sent through the returned sender. Once every sender is dropped, no signal comes.
    pub fn channel() -> (mpsc::UnboundedSender<Signal>, Self) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, Self { source: Source::Channel(rx), deferred_hangup: false })
    }

    /// The next signal of any kind. Cancel-safe: a signal is not lost when the future is dropped.
    pub async fn recv(&mut self) -> Signal {
        if std::mem::take(&mut self.deferred_hangup) {
            return Signal::Hangup;
        }
        match &mut self.source {
            Source::Os { term, int, hup } => tokio::select! {
                _ = term.recv() => Signal::Terminate,
                _ = int.recv() => Signal::Interrupt,
                _ = hup.recv() => Signal::Hangup,
            },
            Source::Channel(rx) => match rx.recv().await {
                Some(s) => s,
                None => std::future::pending().await,
            },
        }
    }

    /// The next signal that stops the daemon. A hangup arriving meanwhile is kept for the next
    /// `recv`, so waiting for a stop (during a pass, say) never loses a reload. Cancel-safe.
    pub async fn recv_stop(&mut self) -> Signal {
        match &mut self.source {
            Source::Os { term, int, .. } => tokio::select! {
                _ = term.recv() => Signal::Terminate,
                _ = int.recv() => Signal::Interrupt,
            },
            Source::Channel(rx) => loop {
                match rx.recv().await {
                    Some(s) if s.stops() => return s,
                    Some(_) => self.deferred_hangup = true,
                    None => std::future::pending().await,
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_hangup_sent_while_waiting_for_a_stop_is_kept_for_later() {
        let (tx, mut signals) = Signals::channel();
        tx.send(Signal::Hangup).unwrap();
        tx.send(Signal::Interrupt).unwrap();
        assert_eq!(signals.recv_stop().await, Signal::Interrupt);
        assert_eq!(signals.recv().await, Signal::Hangup);
        tx.send(Signal::Terminate).unwrap();
        assert_eq!(signals.recv().await, Signal::Terminate);
    }

    #[tokio::test(start_paused = true)]
    async fn no_signal_comes_once_the_senders_are_gone() {
        let (tx, mut signals) = Signals::channel();
        drop(tx);
        let waited = tokio::time::timeout(Duration::from_secs(3600), signals.recv()).await;
        assert!(waited.is_err(), "{waited:?}");
    }
}
