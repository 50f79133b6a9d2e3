//! Terminal styling of command output: whether to colour at all, and the colour of each phase,
//! health state and change.

use std::ffi::OsStr;
use std::io::IsTerminal;

use anstyle::{AnsiColor, Style};

use crate::status::{Health, Phase};

/// Whether output gets colour: only on a terminal, and never while `NO_COLOR` is set to a
/// non-empty value (<https://no-color.org>: an empty value counts as unset).
pub fn colour_wanted(stdout_is_tty: bool, no_color: Option<&OsStr>) -> bool {
    stdout_is_tty && no_color.is_none_or(|v| v.is_empty())
}

/// [`colour_wanted`] for this process's stdout and environment.
pub fn stdout_colour() -> bool {
    colour_wanted(std::io::stdout().is_terminal(), std::env::var_os("NO_COLOR").as_deref())
}

pub const GREEN: Style = AnsiColor::Green.on_default();
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
pub const RED: Style = AnsiColor::Red.on_default();
pub const DIM: Style = Style::new().dimmed();

/// `text` in `style` when `colour`, else `text` unchanged.
pub fn paint(text: &str, style: Style, colour: bool) -> String {
    if colour && style != Style::new() {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// Green when all is well, yellow while it may still become so, red when it needs a look.
pub fn phase_style(phase: Phase) -> Style {
    match phase {
        Phase::Running => GREEN,
        Phase::Pending | Phase::Degraded | Phase::Suspended | Phase::RolledBack => YELLOW,
        Phase::Failed | Phase::Invalid | Phase::Conflict | Phase::ImagePullBackOff | Phase::CrashLoopBackOff => RED,
        Phase::Removed => DIM,
    }
}

pub fn health_style(health: Health) -> Style {
    match health {
        Health::Healthy => GREEN,
        Health::Starting => YELLOW,
        Health::Unhealthy | Health::Down => RED,
        Health::Unknown => Style::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(!colour_wanted(false, None));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(false, Some(OsStr::new("1"))));
        // no-color.org: set to an empty string is the same as unset.
        assert!(colour_wanted(true, Some(OsStr::new(""))));
    }

    #[test]
    fn paint_adds_escapes_only_with_colour() {
        assert_eq!(paint("Running", GREEN, false), "Running");
        assert_eq!(paint("Running", GREEN, true), "\u{1b}[32mRunning\u{1b}[0m");
        assert_eq!(paint("x", Style::new(), true), "x");
    }
}
