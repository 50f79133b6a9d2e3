//! Spec errors as a human reads them at a terminal: the message, then the file, line and column,
//! the offending source line and a caret under the offending token (rendered by
//! `annotate-snippets`, the renderer of rustc and cargo). The one-line form (`Display` of
//! [`SpecError`]) stays what logs and status files carry.

use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::position::{Pos, PositionIndex};
use super::validate::{is_sensitive, sensitive_field_names};
use super::SpecError;

/// Stands in, in a shown source line, for text that may be a secret.
const REDACTED: &str = "(redacted)";

/// `error` rendered with a source excerpt when it has a position and `source` (the file's text)
/// is given; otherwise its one-line form under an `error:` title. Colour (ANSI) only when
/// `colour` is set. The text ends with a newline.
pub fn render(error: &SpecError, source: Option<&str>, colour: bool) -> String {
    let renderer = if colour { Renderer::styled() } else { Renderer::plain() };
    let located = match error {
        SpecError::Invalid { path, line, column, pointer, message } => {
            let title = if pointer.is_empty() { message.clone() } else { format!("{pointer}: {message}") };
            Some((path, Pos { line: *line, column: *column }, Some(pointer.as_str()), title))
        }
        SpecError::Syntax { path, line, column, message } => {
            Some((path, Pos { line: *line, column: *column }, None, format!("YAML syntax error: {message}")))
        }
        _ => None,
    };
    let excerpt = located.as_ref().and_then(|(_, at, pointer, _)| excerpt(source?, *at, *pointer));
    let mut out = match (located, excerpt) {
        (Some((path, at, _, title)), Some(Excerpt { line, span })) => {
            let origin = path.display().to_string();
            let report = [Group::with_title(Level::ERROR.primary_title(title)).element(
                Snippet::source(line).line_start(at.line).path(origin).annotation(AnnotationKind::Primary.span(span)),
            )];
            renderer.render(&report)
        }
        _ => renderer.render(&[Group::with_title(Level::ERROR.primary_title(error.to_string()))]),
    };
    out.push('\n');
    out
}

/// The source line shown for an error, and the byte span in it to underline.
#[derive(Debug, PartialEq, Eq)]
struct Excerpt {
    line: String,
    span: Range<usize>,
}

/// The line at `at` and the token starting at its column. A line that may hold a secret (the
/// error concerns a credential field, a syntax error lies in one, or a credential field's value
/// starts on that line) is shown with everything but its key replaced by [`REDACTED`]: a user may
/// have put plaintext there.
fn excerpt(source: &str, at: Pos, pointer: Option<&str>) -> Option<Excerpt> {
    let line = source.lines().nth(at.line.checked_sub(1)?)?.trim_end_matches('\r');
    let start = line.char_indices().nth(at.column.saturating_sub(1)).map_or(line.len(), |(i, _)| i);
    // Built only when needed: for a syntax error, or a line that may hold a credential.
    let index = std::cell::OnceCell::new();
    let index = || index.get_or_init(|| PositionIndex::build(source));
    let sensitive = match pointer {
        Some(p) => is_sensitive(p),
        // The index stops at a syntax error; the last node before it tells where the error is.
        None => index().pointer_at(at).is_some_and(|p| is_sensitive(&p)),
    };
    // Another value on the same line may be a credential (a flow mapping on one line).
    let names = sensitive_field_names();
    let mentions_credentials = || names.iter().any(|name| line.contains(name.as_str()));
    let sensitive = sensitive
        || (mentions_credentials() && index().pointers_on_line(at.line, names).iter().any(|p| is_sensitive(p)));
    let excerpt = if sensitive {
        redacted(line, start)
    } else {
        Excerpt { line: line.to_string(), span: start..token_end(line, start) }
    };
    Some(excerpt)
}

/// Where the YAML token starting at byte `start` of `line` ends: a quoted string at its closing
/// quote, a flow collection at its closing bracket, a key at its colon, a plain scalar before a
/// comment (and, inside a flow collection, before `,`, `]` or `}`).
fn token_end(line: &str, start: usize) -> usize {
    let rest = &line[start..];
    let Some(first) = rest.chars().next() else {
        return start;
    };
    let end = match first {
        '"' | '\'' => rest[1..].find(first).map_or(rest.len(), |i| i + 2),
        '{' | '[' => {
            let close = if first == '{' { '}' } else { ']' };
            let mut depth = 0usize;
            rest.char_indices()
                .find_map(|(i, c)| {
                    if c == first {
                        depth += 1;
                    } else if c == close {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    None
                })
                .unwrap_or(rest.len())
        }
        _ => {
            let in_flow = line[..start].contains(['{', '[']);
            let mut end = rest.len();
            for (i, c) in rest.char_indices() {
                let next = rest[i + c.len_utf8()..].chars().next();
                let key_colon = c == ':' && next.is_none_or(char::is_whitespace);
                let comment = c == '#' && i > 0 && rest[..i].ends_with([' ', '\t']);
                if key_colon || comment || (in_flow && matches!(c, ',' | ']' | '}')) {
                    end = i;
                    break;
                }
            }
            rest[..end].trim_end().len()
        }
    };
    start + end
}

/// `line` with all but its indentation, sequence dash and key replaced by [`REDACTED`], and the
/// span of what the error points at in the result.
fn redacted(line: &str, start: usize) -> Excerpt {
    let indent = line.len() - line.trim_start_matches([' ', '\t', '-']).len();
    let body = &line[indent..];
    let key_end = body.char_indices().find_map(|(i, c)| {
        let next = body[i + 1..].chars().next();
        (c == ':' && next.is_none_or(char::is_whitespace)).then_some(indent + i + 1)
    });
    // A key on its own, or before a block scalar's indicator, shows nothing of the value.
    let keep = match key_end {
        Some(k) => {
            let value = line[k..].trim();
            let block_indicator =
                value.starts_with(['|', '>']) && value[1..].chars().all(|c| "-+0123456789".contains(c));
            if value.is_empty() || block_indicator {
                let end = token_end(line, start.min(line.len()));
                return Excerpt { line: line.to_string(), span: start.min(end)..end };
            }
            k
        }
        None => indent,
    };
    let sep = if keep > indent { " " } else { "" };
    let shown = format!("{}{sep}{REDACTED}", &line[..keep]);
    let span = if start < keep { start..token_end(&line[..keep], start) } else { keep + sep.len()..shown.len() };
    Excerpt { line: shown, span }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn invalid(line: usize, column: usize, pointer: &str, message: &str) -> SpecError {
        SpecError::Invalid {
            path: PathBuf::from("tenants.d/acme.yaml"),
            line,
            column,
            pointer: pointer.to_string(),
            message: message.to_string(),
        }
    }

    const SOURCE: &str = "\
apiVersion: tenantd/v1
kind: Tenant
metadata: {name: Acme}
spec:
  image: x   # the runtime
  resources:
    memroy: 1Gi
  env: {A: \"quoted value\", B: 1}
  secrets:
    apiKey:
      value: sk-live-PLAINTEXT
    other: {value: sk-live-FLOW}
    number: {value: 12345678}
    digits:
      value: 12345678
    armored:
      value: |
        sk-live-BLOCK
";

    /// The underlined text of the excerpt at `line`:`column`.
    fn underlined(line: usize, column: usize, pointer: Option<&str>) -> (String, String) {
        let e = excerpt(SOURCE, Pos { line, column }, pointer).expect("the line exists");
        (e.line[e.span.clone()].to_string(), e.line)
    }

    #[test]
    fn the_underline_covers_the_token_at_the_position() {
        assert_eq!(underlined(7, 5, Some("/spec/resources/memroy")).0, "memroy");
        assert_eq!(underlined(7, 13, Some("/spec/resources/memroy")).0, "1Gi");
        assert_eq!(underlined(5, 10, Some("/spec/image")).0, "x");
        assert_eq!(underlined(3, 18, Some("/metadata/name")).0, "Acme");
        assert_eq!(underlined(3, 11, Some("/metadata")).0, "{name: Acme}");
        assert_eq!(underlined(8, 12, Some("/spec/env/A")).0, "\"quoted value\"");
        assert_eq!(underlined(8, 31, Some("/spec/env/B")).0, "1");
    }

    #[test]
    fn lines_under_secrets_show_no_value() {
        let (under, line) = underlined(11, 14, Some("/spec/secrets/apiKey/value"));
        assert_eq!((under.as_str(), line.as_str()), ("(redacted)", "      value: (redacted)"));
        let (under, line) = underlined(11, 7, Some("/spec/secrets/apiKey/value"));
        assert_eq!((under.as_str(), line.as_str()), ("value", "      value: (redacted)"));
        let (_, line) = underlined(12, 12, Some("/spec/secrets/other"));
        assert_eq!(line, "    other: (redacted)");
        let (_, line) = underlined(15, 14, Some("/spec/secrets/digits/value"));
        assert_eq!(line, "      value: (redacted)");
        let (_, line) = underlined(18, 9, Some("/spec/secrets/armored/value"));
        assert_eq!(line, "        (redacted)");
        let (under, line) = underlined(10, 5, Some("/spec/secrets/apiKey"));
        assert_eq!((under.as_str(), line.as_str()), ("apiKey", "    apiKey:"));
    }

    #[test]
    fn a_line_holding_a_credential_is_redacted_whatever_the_error_on_it() {
        let source = "spec:\n  runtimeConfig: {gatewayToken: sk-live-PLAINTEXT, agents: [{name: Bad}]}\n";
        let e = excerpt(source, Pos { line: 2, column: 69 }, Some("/spec/runtimeConfig/agents/0/name")).unwrap();
        assert_eq!(e.line, "  runtimeConfig: (redacted)");
        let e = excerpt("spec:\n  env: {A: b}\n  x: 1\n", Pos { line: 2, column: 8 }, Some("/spec/env")).unwrap();
        assert_eq!(e.line, "  env: {A: b}");
    }

    #[test]
    fn a_syntax_error_among_the_secrets_is_redacted_too() {
        let source = "spec:\n  secrets:\n    k:\n      value: sk-live-PLAINTEXT: oops\n";
        let e = excerpt(source, Pos { line: 4, column: 31 }, None).unwrap();
        assert!(!e.line.contains("PLAINTEXT"), "{e:?}");
    }

    #[test]
    fn rendering_shows_file_line_and_caret_without_colour() {
        let e = invalid(7, 5, "/spec/resources/memroy", "unknown field \"memroy\" (did you mean \"memory\"?)");
        let out = render(&e, Some(SOURCE), false);
        assert!(!out.contains('\u{1b}'), "{out}");
        let expected = "\
error: /spec/resources/memroy: unknown field \"memroy\" (did you mean \"memory\"?)
 --> tenants.d/acme.yaml:7:5
  |
7 |     memroy: 1Gi
  |     ^^^^^^
";
        assert_eq!(out, expected);
        assert!(render(&e, Some(SOURCE), true).contains('\u{1b}'));
    }

    #[test]
    fn errors_without_a_position_or_source_keep_their_one_line_form() {
        let e = invalid(7, 5, "/spec/resources/memroy", "unknown field");
        assert_eq!(render(&e, None, false), format!("error: {e}\n"));
        let e = SpecError::Read { path: PathBuf::from("x.yaml"), message: "permission denied".into() };
        assert_eq!(render(&e, Some(SOURCE), false), "error: x.yaml: cannot read: permission denied\n");
    }
}
