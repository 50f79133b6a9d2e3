//! YAML text → the one JSON value the schema validates: exactly one document, string keys only,
//! no tags, finite numbers, no NUL character in any string.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

use super::error::{capped, MAX_ERRORS_PER_FILE};
use super::position::{escape_segment, LazyIndex, Pos};
use super::validate::Violation;
use super::SpecError;

/// Parses `text` as exactly one YAML document and converts it to JSON. Syntax errors (including
/// an alias bomb, which serde_yaml stops by its alias repetition limit before expanding it) come
/// back alone; conversion errors come back all together. `index` is consulted only for errors.
pub fn to_json(text: &str, path: &Path, index: &LazyIndex<'_>) -> Result<Json, Vec<SpecError>> {
    let mut documents = Vec::new();
    for de in serde_yaml::Deserializer::from_str(text) {
        // After a syntax error the iterator repeats it forever: stop at the first error.
        let doc = Yaml::deserialize(de).map_err(|e| vec![syntax_error(&e, path, text)])?;
        documents.push(doc);
        if documents.len() == 2 {
            let at = index.get().documents().get(1).copied().unwrap_or(Pos::START);
            return Err(vec![SpecError::Invalid {
                path: path.to_path_buf(),
                line: at.line,
                column: at.column,
                pointer: String::new(),
                message: "a second YAML document starts here (after '---'); a spec file holds exactly one tenant"
                    .to_string(),
            }]);
        }
    }
    let document = documents.pop().unwrap_or(Yaml::Null);
    let mut found = Found::default();
    let json = convert(document, &At::Root, &mut found);
    if found.errors.is_empty() {
        Ok(json)
    } else {
        let errors = found.errors.into_iter().map(|v| v.into_error(path, index.get())).collect();
        Err(capped(errors, found.more, path))
    }
}

/// Conversion errors: the first [`MAX_ERRORS_PER_FILE`] (spelling out a pointer costs the depth
/// of the node), then only a count.
#[derive(Default)]
struct Found {
    errors: Vec<Violation>,
    more: usize,
}

impl Found {
    fn push(&mut self, at: &At<'_>, message: impl FnOnce() -> String) {
        if self.errors.len() < MAX_ERRORS_PER_FILE {
            self.errors.push(Violation::at(at.pointer(), message()));
        } else {
            self.more += 1;
        }
    }
}

/// A serde_yaml error as a `Syntax` error at the place a human should look: where the parser
/// stopped, except that a file ending inside an unclosed `[`, `{` or quote points at where that
/// opened (the parser's context).
fn syntax_error(e: &serde_yaml::Error, path: &Path, text: &str) -> SpecError {
    let (mut line, mut column, mut message) = located_message(e);
    let at_end = e.location().is_some_and(|l| l.index() >= text.trim_end().len());
    if let (true, Some((problem, context))) = (at_end, message.split_once(", while ")) {
        if let Some((what, (l, c))) =
            context.rsplit_once(" at line ").and_then(|(what, pos)| Some((what, parse_line_column(pos)?)))
        {
            (line, column) = (l, c);
            let inside = what.trim_start_matches("parsing ").trim_start_matches("scanning ");
            message = format!("the file ends inside {inside} that starts here ({problem})");
        }
    }
    SpecError::Syntax { path: path.to_path_buf(), line, column, message }
}

/// `"4 column 7"` → `(4, 7)`.
fn parse_line_column(text: &str) -> Option<(usize, usize)> {
    let (line, column) = text.split_once(" column ")?;
    Some((line.parse().ok()?, column.parse().ok()?))
}

/// A serde_yaml error's line, column and message, the position taken out of the message (it is
/// carried as fields).
pub fn located_message(e: &serde_yaml::Error) -> (usize, usize, String) {
    let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
    let mut message = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    if let Some(i) = message.find(&suffix) {
        message.replace_range(i..i + suffix.len(), "");
    }
    if message == "repetition limit exceeded" || message == "recursion limit exceeded" {
        message = format!("{message}: the document expands aliases or nests too deeply (an alias bomb?)");
    }
    (line, column, message)
}

/// Where a node sits in the document, spelt out as a JSON pointer only when an error needs it:
/// most documents have none, and a string per node is most of what converting them costs.
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn pointer(&self) -> String {
        match self {
            At::Root => String::new(),
            At::Key(parent, key) => format!("{}/{}", parent.pointer(), escape_segment(key)),
            At::Index(parent, i) => format!("{}/{i}", parent.pointer()),
        }
    }
}

fn convert(value: Yaml, at: &At<'_>, errors: &mut Found) -> Json {
    match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(b),
        Yaml::String(s) => {
            if s.contains('\0') {
                errors.push(at, || NUL_MESSAGE.to_string());
            }
            Json::String(s)
        }
        Yaml::Number(n) => {
            let number = if let Some(u) = n.as_u64() {
                Some(u.into())
            } else if let Some(i) = n.as_i64() {
                Some(i.into())
            } else {
                n.as_f64().and_then(serde_json::Number::from_f64)
            };
            number.map(Json::Number).unwrap_or_else(|| {
                errors.push(at, || format!("{n} is not a finite number"));
                Json::Null
            })
        }
        Yaml::Sequence(items) => {
            Json::Array(items.into_iter().enumerate().map(|(i, v)| convert(v, &At::Index(at, i), errors)).collect())
        }
        Yaml::Mapping(entries) => {
            let mut object = serde_json::Map::with_capacity(entries.len());
            for (key, v) in entries {
                match key {
                    Yaml::String(k) => {
                        if k.contains('\0') {
                            errors.push(&At::Key(at, &k), || format!("the key {NUL_MESSAGE}"));
                        }
                        let child = convert(v, &At::Key(at, &k), errors);
                        object.insert(k, child);
                    }
                    other => errors.push(at, || format!("mapping key {} is not a string; quote it", key_text(&other))),
                }
            }
            Json::Object(object)
        }
        Yaml::Tagged(tagged) => {
            errors.push(at, || format!("YAML tags such as {} are not supported", tagged.tag));
            Json::Null
        }
    }
}

/// Strings end at a NUL for the engine, the kernel and most of what reads a runtime's files: a
/// value holding one would be cut short or refused when the tenant is created.
const NUL_MESSAGE: &str = "contains a NUL character (\\0), which no container engine or program accepts";

fn key_text(key: &Yaml) -> String {
    match key {
        Yaml::Null => "null".to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Sequence(_) => "(a list)".to_string(),
        Yaml::Mapping(_) => "(a mapping)".to_string(),
        Yaml::String(s) => format!("{s:?}"),
        Yaml::Tagged(t) => format!("(tagged {})", t.tag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<Json, Vec<SpecError>> {
        to_json(text, Path::new("t.yaml"), &LazyIndex::new(text))
    }

    fn only(r: Result<Json, Vec<SpecError>>) -> SpecError {
        let mut errors = r.expect_err("expected an error");
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.remove(0)
    }

    #[test]
    fn one_document_becomes_json() {
        assert_eq!(
            run("a: [1, -2, 1.5, x, true, null]\n").unwrap(),
            serde_json::json!({"a": [1, -2, 1.5, "x", true, null]})
        );
        assert_eq!(run("").unwrap(), Json::Null);
        assert_eq!(run("---\na: 1\n...\n").unwrap(), serde_json::json!({"a": 1}));
    }

    #[test]
    fn syntax_errors_carry_the_position_and_not_in_the_message() {
        match only(run("a: 1\n b: 2\n")) {
            SpecError::Syntax { line, column, message, .. } => {
                assert_eq!((line, column), (2, 3));
                assert_eq!(message, "mapping values are not allowed in this context");
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn an_unclosed_collection_points_where_it_opens() {
        match only(run("a: 1\nspec: [unclosed\n\n")) {
            SpecError::Syntax { line, column, message, .. } => {
                assert_eq!((line, column), (2, 7), "{message}");
                assert_eq!(
                    message,
                    "the file ends inside a flow sequence that starts here (did not find expected ',' or ']')"
                );
            }
            e => panic!("{e:?}"),
        }
        match only(run("a: 1\nb: 'open\n")) {
            SpecError::Syntax { line, column, message, .. } => {
                assert_eq!((line, column), (2, 4), "{message}");
                assert!(message.starts_with("the file ends inside a quoted scalar that starts here"), "{message}");
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn a_second_document_is_refused_where_it_starts() {
        match only(run("a: 1\n---\nb: 2\n")) {
            SpecError::Invalid { line, pointer, message, .. } => {
                assert_eq!(line, 2);
                assert_eq!(pointer, "");
                assert!(message.contains("exactly one"), "{message}");
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn non_string_keys_tags_and_nan_are_refused_with_pointers() {
        let errors = run("a:\n  1: x\n  ok: y\nb: !secret z\nc: .nan\n").unwrap_err();
        let got: Vec<(String, usize)> = errors
            .iter()
            .map(|e| match e {
                SpecError::Invalid { pointer, line, .. } => (pointer.clone(), *line),
                e => panic!("{e:?}"),
            })
            .collect();
        assert_eq!(got, [("/a".to_string(), 2), ("/b".to_string(), 4), ("/c".to_string(), 5)]);
        assert!(errors[0].to_string().contains("mapping key 1 is not a string"), "{}", errors[0]);
        assert!(errors[1].to_string().contains("!secret"), "{}", errors[1]);
    }
}
