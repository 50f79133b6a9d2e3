//! Durations on the command line, in the one form spec files and the config use: a whole number
//! and a unit, `500ms`, `90s`, `2m`, `1h`. A bare number is read as seconds, as `--wait-timeout`
//! took it before it took units, so existing scripts keep their meaning.

use std::time::Duration;

use crate::spec::SpecDuration;

/// clap's value parser for a duration argument.
pub fn parse(text: &str) -> Result<Duration, String> {
    if !text.is_empty() && text.len() <= 9 && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u64>().map(Duration::from_secs).map_err(|e| e.to_string());
    }
    SpecDuration::try_from(text.to_string()).map(SpecDuration::get).map_err(|e| e.0)
}

/// `d` the way it is written: `2m`, `90s`, `500ms`.
pub fn show(d: Duration) -> String {
    SpecDuration::from_millis(d.as_millis().min(u128::from(u64::MAX)) as u64).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds_parse() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("120"), Ok(Duration::from_secs(120)));
        for bad in ["", "2 m", "-5s", "1h30m", "soon", "10d"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("is not a duration") && e.contains("30s"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn durations_print_as_written() {
        assert_eq!(show(Duration::from_secs(120)), "2m");
        assert_eq!(show(Duration::from_secs(90)), "90s");
        assert_eq!(show(Duration::from_millis(1500)), "1500ms");
    }
}
