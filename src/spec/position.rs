//! Maps JSON pointers into a YAML document to line and column, so errors found on the JSON view
//! of a spec (schema violations, rule violations) can point at the YAML the human wrote.

use std::cell::OnceCell;
use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column in the YAML source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    /// The start of the file: where errors without a better place point.
    pub const START: Pos = Pos { line: 1, column: 1 };

    fn from_marker(m: Marker) -> Pos {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos { line: m.line().max(1), column: m.col() + 1 }
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Where each node of the first document of a YAML text starts. Built without resolving aliases,
/// so it is linear in the size of the text even for an alias bomb; each node holds its parent and
/// its own key or index, never its whole pointer, so a long key above many nodes costs once.
/// Nodes reached only through an alias have no entry of their own; lookups fall back to the
/// nearest indexed ancestor.
#[derive(Debug, Default)]
pub struct PositionIndex {
    /// Every value node, in the order they start; the root, if any, is the first.
    nodes: Vec<Node>,
    /// Each node's children by key (a sequence item's key is its index in decimal).
    children: HashMap<(usize, String), usize>,
    /// Start of the key of each mapping entry whose key is a plain string, by (mapping, key).
    keys: HashMap<(usize, String), Pos>,
    /// Start of each document in the stream.
    documents: Vec<Pos>,
}

#[derive(Debug)]
struct Node {
    /// The parent node and this node's key in it; `None` for the root.
    parent: Option<(usize, String)>,
    start: Pos,
    depth: usize,
}

impl PositionIndex {
    /// Indexes `text`. A YAML syntax error ends indexing where it occurs; what was seen before
    /// stays usable (the syntax error itself is reported by the parser that builds values).
    pub fn build(text: &str) -> PositionIndex {
        let mut builder = Builder { offsets: CharOffsets::new(text), text, ..Builder::default() };
        let mut parser = Parser::new_from_str(text);
        // A syntax error is reported elsewhere, with serde_yaml's position; keep what was indexed.
        if parser.load(&mut builder, true).is_err() {
            builder.stack.clear();
        }
        builder.index
    }

    /// The node at `pointer`, or its nearest indexed ancestor; with whether it is exact.
    fn find(&self, pointer: &str) -> Option<(usize, bool)> {
        if self.nodes.is_empty() {
            return None;
        }
        let mut node = 0;
        for segment in pointer.split('/').skip(1) {
            match self.children.get(&(node, unescape_segment(segment))) {
                Some(child) => node = *child,
                None => return Some((node, false)),
            }
        }
        Some((node, true))
    }

    /// Where the value at `pointer` starts, or where its nearest indexed ancestor starts.
    pub fn value(&self, pointer: &str) -> Pos {
        self.find(pointer).map_or(Pos::START, |(node, _)| self.nodes[node].start)
    }

    /// Whether the value at `pointer` has a position of its own.
    pub fn contains(&self, pointer: &str) -> bool {
        self.find(pointer).is_some_and(|(_, exact)| exact)
    }

    /// Where the key of the entry at `pointer` starts; the value's position when the key is not
    /// indexed.
    pub fn key(&self, pointer: &str) -> Pos {
        let found = pointer.rsplit_once('/').and_then(|(parent, key)| match self.find(parent) {
            Some((node, true)) => self.keys.get(&(node, unescape_segment(key))).copied(),
            _ => None,
        });
        found.unwrap_or_else(|| self.value(pointer))
    }

    /// The starts of the documents in the stream, in order.
    pub fn documents(&self) -> &[Pos] {
        &self.documents
    }

    /// The pointer of the outermost value node starting exactly at `pos`, else of the last node
    /// starting before it.
    pub fn pointer_at(&self, pos: Pos) -> Option<String> {
        let mut best: Option<(usize, Pos, usize)> = None;
        for (i, node) in self.nodes.iter().enumerate() {
            let better = node.start <= pos
                && match best {
                    None => true,
                    Some((_, b, depth)) => node.start > b || (node.start == b && node.depth < depth),
                };
            if better {
                best = Some((i, node.start, node.depth));
            }
        }
        best.map(|(node, _, _)| self.pointer_of(node))
    }

    /// The pointers of the value nodes that start on `line` under one of the keys `named`.
    pub fn pointers_on_line(&self, line: usize, named: &[String]) -> Vec<String> {
        let keyed = |n: &Node| n.parent.as_ref().is_some_and(|(_, key)| named.contains(key));
        (0..self.nodes.len())
            .filter(|n| self.nodes[*n].start.line == line && keyed(&self.nodes[*n]))
            .map(|n| self.pointer_of(n))
            .collect()
    }

    /// The JSON pointer of `node`.
    fn pointer_of(&self, mut node: usize) -> String {
        let mut segments = Vec::new();
        while let Some((parent, key)) = &self.nodes[node].parent {
            segments.push(escape_segment(key));
            node = *parent;
        }
        segments.iter().rev().fold(String::new(), |pointer, s| pointer + "/" + s)
    }
}

/// Undoes [`escape_segment`].
fn unescape_segment(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// Byte offsets of character indices (yaml-rust2's markers count characters), from a checkpoint
/// every 64 characters: a lookup walks at most 63 characters.
#[derive(Debug, Default)]
struct CharOffsets {
    checkpoints: Vec<usize>,
}

impl CharOffsets {
    const EVERY: usize = 64;

    fn new(text: &str) -> Self {
        Self { checkpoints: text.char_indices().step_by(Self::EVERY).map(|(i, _)| i).collect() }
    }

    fn byte(&self, text: &str, char_index: usize) -> usize {
        let Some(start) = self.checkpoints.get(char_index / Self::EVERY) else {
            return text.len();
        };
        text[*start..].char_indices().nth(char_index % Self::EVERY).map_or(text.len(), |(i, _)| start + i)
    }
}

/// The [`PositionIndex`] of a text, built on first use. Only errors need positions, so a valid
/// spec is parsed once, not a second time for an index nobody reads.
#[derive(Debug)]
pub struct LazyIndex<'a> {
    text: &'a str,
    index: OnceCell<PositionIndex>,
}

impl<'a> LazyIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { text, index: OnceCell::new() }
    }

    /// The index, built now if this is the first call.
    pub fn get(&self) -> &PositionIndex {
        self.index.get_or_init(|| PositionIndex::build(self.text))
    }
}

#[derive(Debug)]
enum Frame {
    /// `node` is `None` inside a non-string mapping key, which has no pointer. `key` is the key
    /// whose value comes next (`Some(None)` for a key that is not a string).
    Mapping {
        node: Option<usize>,
        key: Option<Option<String>>,
        is_key: bool,
    },
    Sequence {
        node: Option<usize>,
        next: usize,
        is_key: bool,
    },
}

#[derive(Debug, Default)]
struct Builder<'a> {
    text: &'a str,
    offsets: CharOffsets,
    index: PositionIndex,
    stack: Vec<Frame>,
    /// Events after the first document are counted but not indexed.
    done: bool,
}

impl Builder<'_> {
    /// Where a value starting now goes: its parent node and key (`None` for the root), or
    /// `Err(())` when it has no pointer (inside a mapping key).
    fn next_value_slot(&self) -> Result<Option<(usize, String)>, ()> {
        match self.stack.last() {
            None => Ok(None),
            Some(Frame::Mapping { node: Some(n), key: Some(Some(k)), .. }) => Ok(Some((*n, k.clone()))),
            Some(Frame::Sequence { node: Some(n), next, .. }) => Ok(Some((*n, next.to_string()))),
            _ => Err(()),
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Mapping { key: None, .. }))
    }

    /// Records that the current node (a scalar, alias or a just-closed collection) is complete.
    fn finish_node(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Mapping { key, .. }) => *key = None,
            Some(Frame::Sequence { next, .. }) => *next += 1,
            None => {}
        }
    }

    /// Records a key (`Some` for a string key) in the mapping on top of the stack.
    fn set_key(&mut self, k: Option<String>, mark: Marker) {
        let at = Pos::from_marker(mark);
        if let Some(Frame::Mapping { node: Some(n), .. }) = self.stack.last() {
            // The parser marks a block mapping one column after its first key; the key is where
            // a human sees the mapping start.
            let start = &mut self.index.nodes[*n].start;
            if at < *start {
                *start = at;
            }
            if let Some(name) = &k {
                self.index.keys.entry((*n, name.clone())).or_insert(at);
            }
        }
        if let Some(Frame::Mapping { key, .. }) = self.stack.last_mut() {
            *key = Some(k);
        }
    }

    /// Where a sequence starting at `mark` starts for a human: the parser marks a block sequence
    /// at its first item, after the `- ` that opens it.
    fn sequence_start(&self, mark: Marker) -> Pos {
        let at = Pos::from_marker(mark);
        let before = &self.text.as_bytes()[..self.offsets.byte(self.text, mark.index())];
        let spaces = before.iter().rev().take_while(|b| **b == b' ').count();
        let kept = at.column - 1 - spaces.min(at.column - 1);
        if kept > 0 && before.len() > spaces && before[before.len() - spaces - 1] == b'-' {
            Pos { line: at.line, column: kept }
        } else {
            at
        }
    }

    /// Records a value node in `slot`, keeping the first when a key repeats; returns its id.
    fn record(&mut self, slot: Result<Option<(usize, String)>, ()>, at: Pos) -> Option<usize> {
        let slot = slot.ok()?;
        if let Some(existing) = slot.as_ref().and_then(|s| self.index.children.get(s)) {
            return Some(*existing);
        }
        if slot.is_none() && !self.index.nodes.is_empty() {
            return Some(0);
        }
        let id = self.index.nodes.len();
        let depth = slot.as_ref().map_or(0, |(parent, _)| self.index.nodes[*parent].depth + 1);
        if let Some(s) = &slot {
            self.index.children.insert(s.clone(), id);
        }
        self.index.nodes.push(Node { parent: slot, start: at, depth });
        Some(id)
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::DocumentStart => {
                self.index.documents.push(Pos::from_marker(mark));
            }
            Event::DocumentEnd => {
                self.done = true;
                self.stack.clear();
            }
            _ if self.done => {}
            Event::Scalar(value, ..) => {
                if self.expecting_key() {
                    self.set_key(Some(value), mark);
                } else {
                    let slot = self.next_value_slot();
                    self.record(slot, Pos::from_marker(mark));
                    self.finish_node();
                }
            }
            Event::Alias(_) => {
                if self.expecting_key() {
                    self.set_key(None, mark);
                } else {
                    let slot = self.next_value_slot();
                    self.record(slot, Pos::from_marker(mark));
                    self.finish_node();
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_key = self.expecting_key();
                let sequence = matches!(ev, Event::SequenceStart(..));
                let at = if sequence { self.sequence_start(mark) } else { Pos::from_marker(mark) };
                let node = if is_key {
                    // A collection as a mapping key: nothing inside it has a pointer.
                    self.set_key(None, mark);
                    None
                } else {
                    let slot = self.next_value_slot();
                    self.record(slot, at)
                };
                self.stack.push(if sequence {
                    Frame::Sequence { node, next: 0, is_key }
                } else {
                    Frame::Mapping { node, key: None, is_key }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                // A collection that was a mapping key leaves the mapping waiting for its value.
                if let Some(Frame::Mapping { is_key: false, .. } | Frame::Sequence { is_key: false, .. }) =
                    self.stack.pop()
                {
                    self.finish_node();
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: usize, column: usize) -> Pos {
        Pos { line, column }
    }

    const DOC: &str = "\
apiVersion: tenantd/v1
kind: Tenant
metadata:
  name: acme
  labels: {team: core, a/b: x}
spec:
  image: nginx
  sidecars:
    - name: db
      image: postgres
    - name: cache
      volumes:
        - {name: data, mountPath: /data}
";

    #[test]
    fn values_and_keys_have_one_based_positions() {
        let idx = PositionIndex::build(DOC);
        assert_eq!(idx.value("/apiVersion"), pos(1, 13));
        assert_eq!(idx.key("/apiVersion"), pos(1, 1));
        assert_eq!(idx.value("/metadata/name"), pos(4, 9));
        assert_eq!(idx.key("/metadata/name"), pos(4, 3));
        assert_eq!(idx.value("/metadata/labels/team"), pos(5, 18));
        assert_eq!(idx.key("/metadata/labels/a~1b"), pos(5, 24));
        assert_eq!(idx.value("/spec/sidecars/0/name"), pos(9, 13));
        assert_eq!(idx.value("/spec/sidecars/1/name"), pos(11, 13));
        assert_eq!(idx.value("/spec/sidecars/1/volumes/0/mountPath"), pos(13, 35));
        // Block collections start at their first key or dash; flow ones at the bracket.
        assert_eq!(idx.value(""), pos(1, 1));
        assert_eq!(idx.value("/metadata"), pos(4, 3));
        assert_eq!(idx.value("/spec/sidecars"), pos(9, 5));
        assert_eq!(idx.value("/spec/sidecars/1"), pos(11, 7));
        assert_eq!(idx.value("/spec/sidecars/1/volumes"), pos(13, 9));
        assert_eq!(idx.value("/spec/sidecars/1/volumes/0"), pos(13, 11));
        assert_eq!(idx.value("/metadata/labels"), pos(5, 11));
    }

    #[test]
    fn missing_pointers_fall_back_to_the_nearest_ancestor() {
        let idx = PositionIndex::build(DOC);
        assert_eq!(idx.value("/spec/sidecars/1/volumes/0/readOnly"), idx.value("/spec/sidecars/1/volumes/0"));
        assert_eq!(idx.key("/spec/nope"), idx.value("/spec"));
        assert_eq!(PositionIndex::build("").value("/x"), Pos::START);
    }

    #[test]
    fn reverse_lookup_finds_the_node_at_a_position() {
        let idx = PositionIndex::build(DOC);
        assert_eq!(idx.pointer_at(pos(10, 14)).as_deref(), Some("/spec/sidecars/0/image"));
        assert_eq!(idx.pointer_at(pos(4, 9)).as_deref(), Some("/metadata/name"));
    }

    #[test]
    fn non_string_keys_and_aliases_do_not_confuse_the_index() {
        let text = "a: &x {k: 1}\n? [1, 2]\n: [skipped]\n1: one\nb: *x\nc: [p, q]\n*x : [r]\nd: s\n";
        let idx = PositionIndex::build(text);
        assert_eq!(idx.value("/a/k"), pos(1, 11));
        assert_eq!(idx.value("/b"), pos(5, 4));
        assert_eq!(idx.value("/c/1"), pos(6, 8));
        assert_eq!(idx.value("/1"), pos(4, 4));
        assert_eq!(idx.value("/d"), pos(8, 4));
    }

    #[test]
    fn documents_are_counted_and_only_the_first_is_indexed() {
        let idx = PositionIndex::build("a: 1\n---\nb: 2\n");
        assert_eq!(idx.documents().len(), 2);
        assert_eq!(idx.documents()[1].line, 2);
        assert_eq!(idx.pointer_at(pos(3, 4)).as_deref(), Some("/a"));
    }
}
