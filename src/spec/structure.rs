//! A first, linear look at a spec's YAML before anything builds values from it: how deep its
//! collections nest, how much its aliases repeat, and mapping keys given twice.
//!
//! Why a pass of its own: serde_yaml's parser (libyaml) keeps one possible-key entry per open flow
//! collection and walks all of them on every token, so `[[[[…]]]]` costs depth × size (64 KiB took
//! seconds, 1 MiB minutes); and serde_yaml replays an alias's events for every use, bounded only by
//! a hundred times the document's size. This pass uses yaml-rust2's event parser, which walks at
//! most 256 such entries (it refuses deeper flow nesting itself), so it is linear; it stops at the
//! first nesting beyond [`MAX_NESTING_DEPTH`] or alias use beyond [`MAX_ALIASED_NODES`], before any
//! other parser sees the text. What it lets through nests at most that deep, which keeps libyaml
//! linear too.

use std::collections::HashMap;
use std::path::Path;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

use super::position::escape_segment;
use super::SpecError;

/// How deep collections may nest (the document's top-level mapping is depth 1; a spec needs
/// about 10, extension config a few more).
pub const MAX_NESTING_DEPTH: usize = 64;

/// How many nodes aliases may repeat in all (each use of an alias counts the nodes of what it
/// names).
pub const MAX_ALIASED_NODES: usize = 100_000;

/// How many bytes of scalars aliases may repeat in all: as much as a spec file may hold (the
/// loader checks that the two agree), so that expanded, a spec holds at most twice what its file
/// does.
pub const MAX_ALIASED_BYTES: usize = 1 << 20;

/// Checks `text` (every document in it) against the limits above and for duplicate mapping keys.
/// Returns the first problem, placed where it is; a YAML syntax error is left to the parser that
/// builds values, which reports it with more context, unless that parser could itself be slowed
/// by what follows the error (then the syntax error is reported here).
pub fn check(text: &str, path: &Path) -> Result<(), SpecError> {
    let (e, pointer) = match scan(text, path) {
        Ok(()) => return Ok(()),
        Err(Stop::Found(e)) => return Err(e),
        Err(Stop::Syntax(e, pointer)) => (e, pointer),
    };
    let at = Pos::of(*e.marker());
    if e.info() == "recursion limit exceeded" {
        // yaml-rust2 gives up at 256 nested flow collections, before its parser has said where
        // the limit was crossed (the scanner reads a whole flow collection ahead while it may
        // still be a key). The text up to there ends inside them, so its events do say it.
        let end = text.char_indices().nth(e.marker().index()).map_or(text.len(), |(i, _)| i);
        return match scan(&text[..end], path) {
            Err(Stop::Found(found)) => Err(found),
            _ => Err(too_deep(path, at, pointer, None)),
        };
    }
    if opening_brackets(text) <= MAX_NESTING_DEPTH {
        // libyaml cannot nest deeper than the text has brackets: let it say what is wrong, with
        // its context.
        Ok(())
    } else {
        Err(SpecError::Syntax {
            path: path.to_path_buf(),
            line: at.line,
            column: at.column,
            message: e.info().to_string(),
        })
    }
}

/// Why a scan stopped early: a problem found, or a syntax error (with the pointer reached).
enum Stop {
    Found(SpecError),
    Syntax(ScanError, String),
}

fn scan(text: &str, path: &Path) -> Result<(), Stop> {
    let mut parser = Parser::new_from_str(text);
    let mut state = State::default();
    loop {
        let (event, mark) = parser.next_token().map_err(|e| Stop::Syntax(e, state.pointer()))?;
        let mapping = matches!(event, Event::MappingStart(..));
        match state.on_event(event, mark) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(Problem::TooDeep(at, depth)) if mapping => {
                // yaml-rust2 marks a block mapping one column after its first key; a human sees
                // it start at the key.
                let at = match parser.next_token() {
                    Ok((Event::Scalar(..), key)) => at.min(Pos::of(key)),
                    _ => at,
                };
                return Err(Stop::Found(too_deep(path, at, state.pointer(), depth)));
            }
            Err(problem) => return Err(Stop::Found(problem.into_error(path, &state))),
        }
    }
}

fn opening_brackets(text: &str) -> usize {
    text.bytes().filter(|b| matches!(b, b'[' | b'{')).count()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Pos {
    line: usize,
    column: usize,
}

impl Pos {
    fn of(m: Marker) -> Pos {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos { line: m.line().max(1), column: m.col() + 1 }
    }
}

/// What a key is, as far as telling two keys of one mapping apart goes: a quoted scalar or a
/// plain one that can only be a string is the string; a plain scalar that may be a number, a
/// boolean or null is compared as written (so two keys are never called equal when serde_yaml
/// could read them apart).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyId {
    Str(String),
    Plain(String),
}

impl KeyId {
    fn of(value: &str, style: TScalarStyle) -> KeyId {
        let maybe_not_a_string = value.is_empty()
            || value.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | '~'))
            || ["null", "true", "false"].contains(&value.to_ascii_lowercase().as_str());
        if style == TScalarStyle::Plain && maybe_not_a_string {
            KeyId::Plain(value.to_string())
        } else {
            KeyId::Str(value.to_string())
        }
    }
}

#[derive(Debug)]
enum Frame {
    Mapping {
        /// The keys seen so far, where each was first given.
        keys: HashMap<KeyId, Pos>,
        /// The key whose value comes next: `None` while a key is expected, `Some(None)` for a
        /// key with no pointer segment (a collection or an alias as a key).
        key: Option<Option<String>>,
    },
    Sequence {
        next: usize,
    },
}

#[derive(Debug)]
struct Open {
    frame: Frame,
    /// The anchor of the collection (0 for none).
    anchor: usize,
    /// `nodes` and `bytes` when it opened.
    nodes_before: usize,
    bytes_before: usize,
    /// How many levels the collection spans so far (1 for itself).
    height: usize,
    /// Whether the collection is a mapping key itself.
    is_key: bool,
    /// Whether it is a mapping key or inside one (nothing there has a pointer).
    in_key: bool,
}

/// The size and height of what an anchor names.
#[derive(Debug, Clone, Copy, Default)]
struct Anchored {
    nodes: usize,
    bytes: usize,
    height: usize,
}

#[derive(Debug, Default)]
struct State {
    stack: Vec<Open>,
    anchors: Vec<Anchored>,
    /// Nodes and bytes of scalars seen, counting those an alias repeats.
    nodes: usize,
    bytes: usize,
    /// What aliases repeat, in nodes and bytes.
    aliased: (usize, usize),
}

enum Problem {
    TooDeep(Pos, Option<usize>),
    TooManyAliased(Pos, String),
    DuplicateKey { at: Pos, first: Pos, key: String },
}

impl Problem {
    fn into_error(self, path: &Path, state: &State) -> SpecError {
        match self {
            Problem::TooDeep(at, depth) => too_deep(path, at, state.pointer(), depth),
            Problem::TooManyAliased(at, what) => SpecError::Invalid {
                path: path.to_path_buf(),
                line: at.line,
                column: at.column,
                pointer: state.pointer(),
                message: format!("with this alias, aliases repeat more than {what} in all, the limit (an alias bomb?)"),
            },
            Problem::DuplicateKey { at, first, key } => SpecError::Invalid {
                path: path.to_path_buf(),
                line: at.line,
                column: at.column,
                pointer: format!("{}/{}", state.pointer(), escape_segment(&key)),
                message: format!(
                    "duplicate key {key:?}: it is first given at line {}, column {}",
                    first.line, first.column
                ),
            },
        }
    }
}

fn too_deep(path: &Path, at: Pos, pointer: String, depth: Option<usize>) -> SpecError {
    let depth = depth.map_or_else(|| "more than 255".to_string(), |d| d.to_string());
    SpecError::Invalid {
        path: path.to_path_buf(),
        line: at.line,
        column: at.column,
        pointer,
        message: format!(
            "collections nest {depth} levels deep here; the limit is {MAX_NESTING_DEPTH} (lists and mappings \
             inside each other, aliases included)"
        ),
    }
}

impl State {
    /// The pointer of the node being read (empty inside a mapping key).
    fn pointer(&self) -> String {
        let mut pointer = String::new();
        for open in &self.stack {
            if open.in_key {
                return String::new();
            }
            match &open.frame {
                Frame::Mapping { key: Some(Some(k)), .. } => {
                    pointer.push('/');
                    pointer.push_str(&escape_segment(k));
                }
                Frame::Mapping { .. } => break,
                Frame::Sequence { next } => {
                    pointer.push('/');
                    pointer.push_str(&next.to_string());
                }
            }
        }
        pointer
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Open { frame: Frame::Mapping { key: None, .. }, .. }))
    }

    /// A node of `height` levels is complete in the collection on top of the stack.
    fn finish_node(&mut self, height: usize) {
        if let Some(top) = self.stack.last_mut() {
            top.height = top.height.max(height + 1);
            match &mut top.frame {
                Frame::Mapping { key, .. } => *key = None,
                Frame::Sequence { next } => *next += 1,
            }
        }
    }

    fn set_anchor(&mut self, id: usize, anchored: Anchored) {
        if id == 0 {
            return;
        }
        if self.anchors.len() <= id {
            self.anchors.resize(id + 1, Anchored::default());
        }
        self.anchors[id] = anchored;
    }

    /// Records a scalar or alias key; errors when the mapping already has it.
    fn key(&mut self, key: Option<(KeyId, String)>, at: Pos) -> Result<(), Problem> {
        if let Some(Open { frame: Frame::Mapping { keys, key: current }, .. }) = self.stack.last_mut() {
            match key {
                Some((id, text)) => {
                    if let Some(first) = keys.get(&id) {
                        return Err(Problem::DuplicateKey { at, first: *first, key: text });
                    }
                    keys.insert(id, at);
                    *current = Some(Some(text));
                }
                None => *current = Some(None),
            }
        }
        Ok(())
    }

    /// Takes one event; `Ok(false)` at the end of the stream.
    fn on_event(&mut self, event: Event, mark: Marker) -> Result<bool, Problem> {
        let at = Pos::of(mark);
        match event {
            Event::StreamEnd => return Ok(false),
            Event::Scalar(value, style, anchor, tag) => {
                self.nodes += 1;
                self.bytes += value.len();
                self.set_anchor(anchor, Anchored { nodes: 1, bytes: value.len(), height: 0 });
                if self.expecting_key() {
                    let id = (tag.is_none()).then(|| (KeyId::of(&value, style), value));
                    self.key(id, at)?;
                } else {
                    self.finish_node(0);
                }
            }
            Event::Alias(id) => {
                let anchored = self.anchors.get(id).copied().unwrap_or_default();
                self.nodes += anchored.nodes;
                self.bytes += anchored.bytes;
                self.aliased.0 += anchored.nodes;
                self.aliased.1 += anchored.bytes;
                if self.aliased.0 > MAX_ALIASED_NODES {
                    return Err(Problem::TooManyAliased(at, format!("{MAX_ALIASED_NODES} nodes")));
                }
                if self.aliased.1 > MAX_ALIASED_BYTES {
                    return Err(Problem::TooManyAliased(at, format!("{MAX_ALIASED_BYTES} bytes of text")));
                }
                let depth = self.stack.len() + anchored.height;
                if depth > MAX_NESTING_DEPTH {
                    return Err(Problem::TooDeep(at, Some(depth)));
                }
                if self.expecting_key() {
                    self.key(None, at)?;
                } else {
                    self.finish_node(anchored.height);
                }
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                if self.stack.len() + 1 > MAX_NESTING_DEPTH {
                    return Err(Problem::TooDeep(at, Some(self.stack.len() + 1)));
                }
                self.nodes += 1;
                let is_key = self.expecting_key();
                let in_key = is_key || self.stack.last().is_some_and(|o| o.in_key);
                if is_key {
                    self.key(None, at)?;
                }
                let frame = if matches!(event, Event::MappingStart(..)) {
                    Frame::Mapping { keys: HashMap::new(), key: None }
                } else {
                    Frame::Sequence { next: 0 }
                };
                self.stack.push(Open {
                    frame,
                    anchor,
                    nodes_before: self.nodes - 1,
                    bytes_before: self.bytes,
                    height: 1,
                    is_key,
                    in_key,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(open) = self.stack.pop() {
                    let anchored = Anchored {
                        nodes: self.nodes - open.nodes_before,
                        bytes: self.bytes - open.bytes_before,
                        height: open.height,
                    };
                    self.set_anchor(open.anchor, anchored);
                    if open.is_key {
                        // The mapping now waits for the value of this key.
                        if let Some(top) = self.stack.last_mut() {
                            top.height = top.height.max(open.height + 1);
                        }
                    } else {
                        self.finish_node(open.height);
                    }
                }
            }
            Event::DocumentEnd => self.stack.clear(),
            Event::Nothing | Event::StreamStart | Event::DocumentStart => {}
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<(), SpecError> {
        check(text, Path::new("t.yaml"))
    }

    /// (line, column, pointer, message) of the one error.
    fn refused(text: &str) -> (usize, usize, String, String) {
        match run(text) {
            Err(SpecError::Invalid { line, column, pointer, message, .. }) => (line, column, pointer, message),
            other => panic!("expected an Invalid error, got {other:?}"),
        }
    }

    #[test]
    fn ordinary_documents_pass() {
        let text =
            "a: &x {k: [1, 2, {m: n}]}\nb: *x\nc:\n  - - deep\n    - x\n? [complex, key]\n: v\n\"q\": 1\nq2: 2\n";
        assert_eq!(run(text), Ok(()));
        assert_eq!(run(""), Ok(()));
        assert_eq!(run("a: 1\n---\na: 1\n"), Ok(()), "each document has its own keys");
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_where_it_crosses_it() {
        let ok = format!("a: {}{}\n", "[".repeat(MAX_NESTING_DEPTH - 1), "]".repeat(MAX_NESTING_DEPTH - 1));
        assert_eq!(run(&ok), Ok(()));
        let deep = format!("a: {}{}\n", "[".repeat(MAX_NESTING_DEPTH), "]".repeat(MAX_NESTING_DEPTH));
        let (line, column, pointer, message) = refused(&deep);
        assert_eq!((line, column), (1, 4 + MAX_NESTING_DEPTH - 1));
        assert_eq!(pointer, format!("/a{}", "/0".repeat(MAX_NESTING_DEPTH - 1)));
        assert!(message.contains("nest 65 levels deep here; the limit is 64"), "{message}");
        // Far beyond yaml-rust2's own flow limit, and in block style.
        let (line, column, _, message) = refused(&format!("a: {}\n", "{a: ".repeat(100_000)));
        assert_eq!((line, column), (1, 4 + (MAX_NESTING_DEPTH - 1) * 4));
        assert!(message.contains("nest 65 levels deep here"), "{message}");
        let block: String = (0..100).map(|d| format!("{}k:\n", "  ".repeat(d))).collect();
        let (line, column, _, _) = refused(&block);
        assert_eq!((line, column), (65, 129));
        let (line, column, ..) = refused(&format!("{}x\n", "- ".repeat(100)));
        assert_eq!((line, column), (1, 129));
    }

    #[test]
    fn brackets_inside_scalars_are_not_nesting() {
        let many = "[{".repeat(10_000);
        assert_eq!(run(&format!("a: \"{many}\"\nb: '{many}'\nc: x{many}\nd: |\n  {many}\n# {many}\n")), Ok(()));
    }

    #[test]
    fn aliases_count_what_they_repeat() {
        let list = vec!["x"; 1000].join(", ");
        let uses = vec!["*a"; 99].join(", ");
        assert_eq!(run(&format!("a: &a [{list}]\nb: [{uses}]\n")), Ok(()));
        let uses = vec!["*a"; 101].join(", ");
        let (line, column, pointer, message) = refused(&format!("a: &a [{list}]\nb: [{uses}]\n"));
        assert_eq!((line, column, pointer.as_str()), (2, 5 + 99 * 4, "/b/99"));
        assert!(message.contains("more than 100000 nodes in all, the limit"), "{message}");
        // And what they repeat in bytes.
        let big = "x".repeat(100_000);
        let (line, column, pointer, message) = refused(&format!("a: &a {big}\nb: [{}]\n", vec!["*a"; 20].join(", ")));
        assert_eq!((line, column, pointer.as_str()), (2, 5 + 10 * 4, "/b/10"));
        assert!(message.contains("more than 1048576 bytes of text in all"), "{message}");
        // An alias of a deep collection counts its depth where it is used.
        let deep = format!("a: &a {}{}\n", "[".repeat(40), "]".repeat(40));
        let (line, _, _, message) = refused(&format!("{deep}b: {}*a{}\n", "[".repeat(30), "]".repeat(30)));
        assert_eq!(line, 2);
        assert!(message.contains("nest 71 levels deep"), "{message}");
    }

    #[test]
    fn a_duplicate_key_is_placed_at_its_second_occurrence_naming_the_first() {
        let (line, column, pointer, message) = refused("spec:\n  env:\n    A: one\n    B: two\n    \"A\": three\n");
        assert_eq!((line, column, pointer.as_str()), (5, 5, "/spec/env/A"));
        assert_eq!(message, "duplicate key \"A\": it is first given at line 3, column 5");
        let (line, _, pointer, _) = refused("l: [{a: 1, a: 2}]\n");
        assert_eq!((line, pointer.as_str()), (1, "/l/0/a"));
        // Keys serde_yaml may read apart are not called equal.
        assert_eq!(run("m: {1: a, '1': b, true: c, 'true': d, ~: e, '~': f}\n"), Ok(()));
    }

    #[test]
    fn a_syntax_error_is_left_to_the_value_parser_unless_brackets_abound() {
        assert_eq!(run("a: [1\nb: 2\n"), Ok(()));
        let text = format!("a: 1\n b: 2\nc: {}{}\n", "[".repeat(70), "]".repeat(70));
        match run(&text) {
            Err(SpecError::Syntax { line, .. }) => assert_eq!(line, 2),
            other => panic!("{other:?}"),
        }
    }
}
