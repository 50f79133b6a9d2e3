//! Which files in `tenants.d/` are specs, and turning each into a `TenantFile` or errors: a
//! regular file of at most 1 MiB, opened without blocking → the YAML's structure (nesting depth,
//! aliases, duplicate keys; linear, before anything builds values) → YAML (one document) → JSON →
//! the published schema → `TenantFile` → the rules the schema cannot say → build contexts on
//! disk. A file reports at most `MAX_ERRORS_PER_FILE` problems.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value as Json;

use super::context::resolve_contexts;
use super::document::{located_message, to_json};
use super::error::capped;
use super::position::{escape_segment, LazyIndex, Pos, PositionIndex};
use super::rules::rule_violations;
use super::stamp::FileStamp;
use super::structure;
use super::validate::{is_sensitive, schema_violations, Violation};
use super::{SpecError, TenantFile, TenantName};

/// Spec files larger than this are refused before parsing.
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

// Expanded aliases may add as much again as the file holds, no more.
const _: () = assert!(structure::MAX_ALIASED_BYTES as u64 == MAX_SPEC_BYTES);

/// A valid spec and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub path: PathBuf,
    pub file: TenantFile,
    /// The resolved build context of every `build` in the spec, keyed by the JSON pointer of the
    /// build object (`/spec/build`, `/spec/sidecars/0/build`). Every `build` of a spec loaded from
    /// a file has an entry.
    pub contexts: BTreeMap<String, BuildContext>,
}

/// A checked build context: an existing directory holding the Dockerfile, and a digest of its
/// content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildContext {
    /// The context directory, canonical.
    pub dir: PathBuf,
    /// The Dockerfile's path relative to `dir`.
    pub dockerfile: String,
    /// Hex SHA-256 over exactly what is sent to the engine (see [`super::ContextFiles::read`]):
    /// every entry `.dockerignore` leaves in, dot-directories included.
    pub digest: String,
}

/// A file that did not yield a valid tenant. `tenant` is the name it declares when that could be
/// read, else the file stem when that is a valid name, else `None`.
#[derive(Debug, Clone)]
pub struct InvalidSpec {
    pub path: PathBuf,
    pub tenant: Option<TenantName>,
    pub errors: Vec<SpecError>,
}

/// Why a directory entry was not read as a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    NotYaml,
    Hidden,
    EditorTemporary,
    Directory,
}

/// The result of reading a tenants directory.
#[derive(Debug, Clone, Default)]
pub struct SpecSet {
    /// The directory as the loader resolved it (canonical) before listing it; every path in the
    /// set names an entry directly in it. Empty for the set of a directory that is not there.
    pub dir: PathBuf,
    pub valid: BTreeMap<TenantName, LoadedSpec>,
    /// Valid files left unread because the caller still holds what they say (see
    /// [`load_dir_reusing`]), by the tenant they name.
    pub reused: BTreeMap<TenantName, PathBuf>,
    pub invalid: Vec<InvalidSpec>,
    pub skipped: Vec<(PathBuf, SkipReason)>,
    /// The stamp of each valid or reused file, taken before it was read.
    pub stamps: BTreeMap<PathBuf, FileStamp>,
    /// Files invalid by their text alone (read now or taken over), with what a later read may
    /// take over from them while their stamp stays the same.
    pub invalid_texts: BTreeMap<PathBuf, InvalidText>,
}

/// A file whose text alone makes it invalid: the same text gives the same errors, so a later
/// read with the same stamp need not parse it again (a file can cost a lot to find invalid).
#[derive(Debug, Clone)]
pub struct InvalidText {
    /// Taken before the file was read.
    pub stamp: FileStamp,
    /// The tenant it declares, when that could be read.
    pub declared: Option<TenantName>,
    pub errors: Vec<SpecError>,
}

/// What the caller of [`load_dir_reusing`] already knows of a file with a given stamp.
#[derive(Debug, Clone)]
pub enum Known {
    /// A valid spec of this tenant.
    Valid(TenantName),
    /// Invalid by its text alone.
    Invalid(InvalidText),
}

impl SpecSet {
    /// True when some invalid file's tenant is unknown: then no tenant may be deleted as an
    /// orphan, because it might be the one that file describes.
    pub fn has_unattributed_invalid(&self) -> bool {
        self.invalid.iter().any(|i| i.tenant.is_none())
    }
}

/// Reads every spec in `dir`: the `*.yaml` and `*.yml` regular files directly in it, in name
/// order. Hidden files, editor temporaries and backups, other extensions and subdirectories are
/// skipped (and listed). A symlink is followed only when its target is inside `dir`. Every
/// problem with a file makes it an [`InvalidSpec`]; two files declaring one tenant are both
/// invalid. Fails only when `dir` itself cannot be read.
pub fn load_dir(dir: &Path) -> Result<SpecSet, SpecError> {
    load_dir_reusing(dir, &|_, _| None)
}

/// Like [`load_dir`], but a file for which `reuse(path, stamp)` knows something is not read:
/// the caller vouches that a file with this stamp said exactly that (it read it before). A valid
/// one is listed in [`SpecSet::reused`], an invalid one among the invalid as if it was read;
/// both take part in the check for duplicate names as usual.
pub fn load_dir_reusing(dir: &Path, reuse: &dyn Fn(&Path, &FileStamp) -> Option<Known>) -> Result<SpecSet, SpecError> {
    let dir_error = |e: io::Error| SpecError::Dir { dir: dir.to_path_buf(), message: e.to_string() };
    let root = fs::canonicalize(dir).map_err(dir_error)?;
    let mut entries: Vec<fs::DirEntry> =
        fs::read_dir(dir).map_err(dir_error)?.collect::<Result<_, _>>().map_err(dir_error)?;
    entries.sort_by_key(|e| e.file_name());

    let mut set = SpecSet { dir: root.clone(), ..SpecSet::default() };
    let mut loaded = Vec::new();
    for entry in entries {
        match read_entry(&entry, &root, reuse) {
            Entry::Skipped(reason) => set.skipped.push((entry.path(), reason)),
            Entry::Spec(candidate) => loaded.push(*candidate),
        }
    }

    // Two files claiming one tenant: neither may be applied, since either could be the one meant.
    let mut claims: BTreeMap<TenantName, Vec<PathBuf>> = BTreeMap::new();
    for c in &loaded {
        if let Some(name) = &c.declared {
            claims.entry(name.clone()).or_default().push(c.path.clone());
        }
    }
    for Candidate { path, declared, result, stamp, text_invalid } in loaded {
        if let (true, Some(stamp), Err(errors)) = (text_invalid, stamp, &result) {
            let known = InvalidText { stamp, declared: declared.clone(), errors: errors.clone() };
            set.invalid_texts.insert(path.clone(), known);
        }
        let mut duplicates = Vec::new();
        if let Some(name) = &declared {
            for other in claims[name].iter().filter(|other| **other != path) {
                duplicates.push(SpecError::DuplicateName {
                    path: path.clone(),
                    name: name.to_string(),
                    other: other.clone(),
                });
            }
        }
        match result {
            Ok(read) if duplicates.is_empty() => {
                if let Some(stamp) = stamp {
                    set.stamps.insert(path.clone(), stamp);
                }
                match read {
                    ReadSpec::Fresh(spec) => {
                        set.valid.insert(spec.file.metadata.name.clone(), *spec);
                    }
                    ReadSpec::Reused(name) => {
                        set.reused.insert(name, path);
                    }
                }
            }
            result => {
                let mut errors = result.err().unwrap_or_default();
                errors.extend(duplicates);
                let tenant = declared.or_else(|| stem_name(&path));
                set.invalid.push(InvalidSpec { path, tenant, errors });
            }
        }
    }
    Ok(set)
}

/// What one directory entry turned out to be.
enum Entry {
    Skipped(SkipReason),
    Spec(Box<Candidate>),
}

/// A file read as a spec, before duplicates across files are known.
struct Candidate {
    path: PathBuf,
    /// The tenant the file declares, when that can be read even from an invalid file.
    declared: Option<TenantName>,
    result: Result<ReadSpec, Vec<SpecError>>,
    /// Taken before reading, so that a change while reading shows as a change next time.
    stamp: Option<FileStamp>,
    /// `result` is the errors of the file's text alone (nothing outside the file was looked at).
    text_invalid: bool,
}

/// A valid file: read now, or vouched for by the caller.
enum ReadSpec {
    Fresh(Box<LoadedSpec>),
    Reused(TenantName),
}

fn read_entry(entry: &fs::DirEntry, root: &Path, reuse: &dyn Fn(&Path, &FileStamp) -> Option<Known>) -> Entry {
    let path = entry.path();
    let failed = |path: PathBuf, e: SpecError| {
        Entry::Spec(Box::new(Candidate {
            path,
            declared: None,
            result: Err(vec![e]),
            stamp: None,
            text_invalid: false,
        }))
    };
    let name = entry.file_name().to_string_lossy().into_owned();
    if let Some(reason) = skip_reason(&name) {
        return Entry::Skipped(reason);
    }
    let kind = match entry.file_type() {
        Ok(kind) => kind,
        Err(e) => return failed(path.clone(), read_error(&path, &e)),
    };
    if kind.is_dir() {
        return Entry::Skipped(SkipReason::Directory);
    }
    if !is_yaml_name(&name) {
        return Entry::Skipped(SkipReason::NotYaml);
    }
    let target = if kind.is_symlink() {
        match symlink_target(&path, root) {
            Ok(target) if target.is_dir() => return Entry::Skipped(SkipReason::Directory),
            Ok(target) => target,
            Err(e) => return failed(path, e),
        }
    } else {
        path.clone()
    };
    let stamp = FileStamp::of(&target);
    match stamp.as_ref().and_then(|s| reuse(&path, s)) {
        Some(Known::Valid(name)) => {
            return Entry::Spec(Box::new(Candidate {
                path,
                declared: Some(name.clone()),
                result: Ok(ReadSpec::Reused(name)),
                stamp,
                text_invalid: false,
            }))
        }
        Some(Known::Invalid(known)) => {
            return Entry::Spec(Box::new(Candidate {
                path,
                declared: known.declared,
                result: Err(known.errors),
                stamp,
                text_invalid: true,
            }))
        }
        None => {}
    }
    let text = match read_spec(&target, &path) {
        Ok(text) => text,
        Err(e) => return failed(path, e),
    };
    let (result, text_invalid) = match parse(&text, &path) {
        Ok((file, index)) => (with_contexts(file, &index, &path), false),
        Err(errors) => (Err(errors), true),
    };
    let declared = match &result {
        Ok(spec) => Some(spec.file.metadata.name.clone()),
        Err(_) => declared_name(&text, &path),
    };
    let result = result.map(|s| ReadSpec::Fresh(Box::new(s)));
    Entry::Spec(Box::new(Candidate { path, declared, result, stamp, text_invalid }))
}

/// Reads one file at any path (no extension needed), as `tenantd validate FILE` does: it must be
/// a regular file (a symlink to one is fine) of at most [`MAX_SPEC_BYTES`]. Build contexts are
/// resolved against the file's directory. Returns every problem found.
pub fn load_file(path: &Path) -> Result<LoadedSpec, Vec<SpecError>> {
    load_file_as(path, path)
}

/// Reads the file at `source` as if it were at `shown`: its build contexts are resolved against
/// `shown`'s directory and its problems are named at `shown` (a temporary copy checked before
/// it is moved into place, as Ansible's `validate:` does).
pub fn load_file_as(source: &Path, shown: &Path) -> Result<LoadedSpec, Vec<SpecError>> {
    let text = read_spec(source, shown).map_err(|e| vec![e])?;
    load_text(&text, shown)
}

/// Parses and validates spec text; `path` is used in messages. Build contexts are not resolved
/// (there is no directory to resolve them against): use [`load_file`] for that.
pub fn parse_str(text: &str, path: &Path) -> Result<TenantFile, Vec<SpecError>> {
    parse(text, path).map(|(file, _)| file)
}

/// The file, and the positions of its nodes for errors found later (built only if one is).
fn parse<'t>(text: &'t str, path: &Path) -> Result<(TenantFile, LazyIndex<'t>), Vec<SpecError>> {
    if text.len() as u64 > MAX_SPEC_BYTES {
        return Err(vec![SpecError::TooLarge {
            path: path.to_path_buf(),
            size: text.len() as u64,
            limit: MAX_SPEC_BYTES,
        }]);
    }
    // Before any parser that builds values: libyaml's cost grows with nesting depth × size.
    structure::check(text, path).map_err(|e| vec![e])?;
    let index = LazyIndex::new(text);
    let json = to_json(text, path, &index)?;
    let violations = schema_violations(&json);
    if !violations.is_empty() {
        return Err(located(violations, path, index.get()));
    }
    // The schema accepted it, so the JSON view holds the types serde expects there: the typed
    // file is read from that view, not from a second parse of the text. What serde still refuses
    // (a size that overflows, say) is read from the text again, for serde_yaml's position.
    let file = match TenantFile::deserialize(&json) {
        Ok(file) => file,
        Err(_) => serde_yaml::from_str(text).map_err(|e| vec![typed_error(&e, path, &json, index.get())])?,
    };
    let violations = rule_violations(&file);
    if !violations.is_empty() {
        return Err(located(violations, path, index.get()));
    }
    Ok((file, index))
}

fn load_text(text: &str, path: &Path) -> Result<LoadedSpec, Vec<SpecError>> {
    let (file, index) = parse(text, path)?;
    with_contexts(file, &index, path)
}

/// A parsed file with its build contexts resolved on disk.
fn with_contexts(file: TenantFile, index: &LazyIndex<'_>, path: &Path) -> Result<LoadedSpec, Vec<SpecError>> {
    let contexts = resolve_contexts(&file, path).map_err(|v| located(v, path, index.get()))?;
    Ok(LoadedSpec { path: path.to_path_buf(), file, contexts })
}

/// Violations as errors, in the order of the file, at most `MAX_ERRORS_PER_FILE` of them.
fn located(violations: Vec<Violation>, path: &Path, index: &PositionIndex) -> Vec<SpecError> {
    let mut errors: Vec<SpecError> = violations.into_iter().map(|v| v.into_error(path, index)).collect();
    errors.sort_by(|a, b| match (a, b) {
        (
            SpecError::Invalid { line, column, pointer, .. },
            SpecError::Invalid { line: l, column: c, pointer: p, .. },
        ) => (line, column, pointer).cmp(&(l, c, p)),
        _ => std::cmp::Ordering::Equal,
    });
    capped(errors, 0, path)
}

/// A serde error on a schema-valid document, placed at the value serde_yaml names in its path
/// (`spec.sidecars[0].resources`), or at the string inside it that the message quotes first (the
/// newtypes' messages start with the value they refuse), else where serde_yaml stopped.
fn typed_error(e: &serde_yaml::Error, path: &Path, json: &Json, index: &PositionIndex) -> SpecError {
    let (line, column, message) = located_message(e);
    let named = message
        .split_once(": ")
        .filter(|(p, _)| !p.contains(' '))
        .map(|(p, m)| (pointer_of_serde_path(p), m.to_string()))
        .filter(|(p, _)| index.contains(p));
    let (pointer, message, at) = match named {
        Some((pointer, message)) => {
            let pointer = json.pointer(&pointer).and_then(|v| quoted_within(v, &pointer, &message)).unwrap_or(pointer);
            let at = index.value(&pointer);
            (pointer, message, at)
        }
        None => {
            let at = Pos { line, column };
            (index.pointer_at(at).unwrap_or_default(), message, at)
        }
    };
    // The newtypes' messages quote the value they refuse: not one written in a credential field.
    let message = match json.pointer(&pointer) {
        Some(Json::String(value)) if is_sensitive(&pointer) => message.replace(&format!("{value:?}"), "the value"),
        _ => message,
    };
    SpecError::Invalid { path: path.to_path_buf(), line: at.line, column: at.column, pointer, message }
}

/// The pointer of the first string below `value` (at `pointer`) that `message` starts with, quoted.
fn quoted_within(value: &Json, pointer: &str, message: &str) -> Option<String> {
    match value {
        Json::String(s) => message.starts_with(&format!("{s:?}")).then(|| pointer.to_string()),
        Json::Array(items) => {
            items.iter().enumerate().find_map(|(i, v)| quoted_within(v, &format!("{pointer}/{i}"), message))
        }
        Json::Object(map) => {
            map.iter().find_map(|(k, v)| quoted_within(v, &format!("{pointer}/{}", escape_segment(k)), message))
        }
        _ => None,
    }
}

/// `spec.sidecars[0].name` → `/spec/sidecars/0/name`.
fn pointer_of_serde_path(dotted: &str) -> String {
    let mut pointer = String::new();
    for segment in dotted.split('.') {
        let (name, indices) = segment.split_once('[').map_or((segment, ""), |(n, rest)| (n, rest));
        if !name.is_empty() {
            pointer.push('/');
            pointer.push_str(&escape_segment(name));
        }
        for index in indices.split('[').map(|i| i.trim_end_matches(']')).filter(|i| !i.is_empty()) {
            pointer.push('/');
            pointer.push_str(index);
        }
    }
    pointer
}

/// Reads the spec at `source` (the symlink target, or the file itself) into a string, refusing
/// anything but a regular file of at most [`MAX_SPEC_BYTES`] before reading it. Errors name `shown`.
fn read_spec(source: &Path, shown: &Path) -> Result<String, SpecError> {
    let bytes = read_spec_bytes(source, shown)?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + valid.iter().filter(|b| **b == b'\n').count();
        let column =
            1 + String::from_utf8_lossy(&valid[valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)..])
                .chars()
                .count();
        SpecError::Syntax { path: shown.to_path_buf(), line, column, message: "the file is not UTF-8 text".to_string() }
    })
}

/// The bytes of the regular file at `source`, at most [`MAX_SPEC_BYTES`] of them. Opening never
/// blocks: the file is opened non-blocking (a FIFO or a device renamed over a spec between any
/// check and the open would otherwise hold the caller in `open` or `read` for good) and without
/// becoming a controlling terminal, and what was opened, not what the path named before, must be
/// a regular file.
fn read_spec_bytes(source: &Path, shown: &Path) -> Result<Vec<u8>, SpecError> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let not_a_file = |meta: &fs::Metadata| SpecError::Read {
        path: shown.to_path_buf(),
        message: format!("not a regular file ({})", kind_of(meta)),
    };
    let fd = rustix::fs::open(source, flags, Mode::empty()).map_err(|e| {
        // A socket cannot be opened at all (ENXIO): say what it is rather than the errno.
        match fs::metadata(source) {
            Ok(meta) if !meta.is_file() => not_a_file(&meta),
            _ => read_error(shown, &e.into()),
        }
    })?;
    let file = fs::File::from(fd);
    let meta = file.metadata().map_err(|e| read_error(shown, &e))?;
    if !meta.is_file() {
        return Err(not_a_file(&meta));
    }
    if meta.len() > MAX_SPEC_BYTES {
        return Err(SpecError::TooLarge { path: shown.to_path_buf(), size: meta.len(), limit: MAX_SPEC_BYTES });
    }
    // The file may grow between the check and the read: never hold more than the limit.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_SPEC_BYTES + 1).read_to_end(&mut bytes).map_err(|e| read_error(shown, &e))?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(SpecError::TooLarge { path: shown.to_path_buf(), size: bytes.len() as u64, limit: MAX_SPEC_BYTES });
    }
    Ok(bytes)
}

/// What a file that is not a regular file is, in words.
fn kind_of(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

/// The text of the spec file at `path` for showing excerpts of it, read as the loader reads it
/// (never blocking, a regular file of at most [`MAX_SPEC_BYTES`]); `None` when it cannot be.
pub fn read_source(path: &Path) -> Option<String> {
    read_spec(path, path).ok()
}

fn read_error(path: &Path, e: &io::Error) -> SpecError {
    SpecError::Read { path: path.to_path_buf(), message: e.to_string() }
}

/// The target of the symlink at `link` when it lies inside `root` (canonical).
fn symlink_target(link: &Path, root: &Path) -> Result<PathBuf, SpecError> {
    let refuse = |message: String| SpecError::Symlink { path: link.to_path_buf(), message };
    let target = fs::canonicalize(link).map_err(|e| match e.raw_os_error() {
        Some(40) => refuse("it is part of a symlink loop".to_string()), // ELOOP
        _ if e.kind() == io::ErrorKind::NotFound => refuse("its target does not exist".to_string()),
        _ => refuse(format!("its target cannot be resolved: {e}")),
    })?;
    if target.starts_with(root) && target != root {
        Ok(target)
    } else {
        Err(refuse(format!("its target {} is outside the tenants directory {}", target.display(), root.display())))
    }
}

fn is_yaml_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

/// Names that are never specs, whatever they point to: editor and package-manager leftovers, then
/// hidden files.
fn skip_reason(name: &str) -> Option<SkipReason> {
    let editor = name.ends_with('~')
        || name.starts_with(".#")
        || (name.len() > 1 && name.starts_with('#') && name.ends_with('#'))
        || [".swp", ".swx", ".bak", ".orig", ".tmp"].iter().any(|ext| name.ends_with(ext))
        || name.contains(".dpkg-")
        || name.contains(".rpm");
    if editor {
        Some(SkipReason::EditorTemporary)
    } else if name.starts_with('.') {
        Some(SkipReason::Hidden)
    } else {
        None
    }
}

/// The tenant an invalid spec declares, when `metadata.name` can be read from it at all.
fn declared_name(text: &str, path: &Path) -> Option<TenantName> {
    // A file the structure check refuses is never given to serde_yaml.
    structure::check(text, path).ok()?;
    let doc: serde_yaml::Value =
        serde_yaml::Deserializer::from_str(text).next().and_then(|d| serde::Deserialize::deserialize(d).ok())?;
    let name = doc.get("metadata")?.get("name")?.as_str()?;
    TenantName::try_from(name.to_string()).ok()
}

/// The tenants the spec files in `dir` name, read cheaply (for shell completion): each file the
/// loader would read gives its `metadata.name`, else its file stem when that is a valid name. No
/// file is validated and no build context is looked at; opening never blocks, as for the loader.
/// Fails only when `dir` cannot be listed.
pub fn declared_tenants(dir: &Path) -> io::Result<std::collections::BTreeSet<TenantName>> {
    let mut names = std::collections::BTreeSet::new();
    for entry in fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if skip_reason(&name).is_some() || !is_yaml_name(&name) || entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        let declared = read_spec(&path, &path).ok().and_then(|text| declared_name(&text, &path));
        names.extend(declared.or_else(|| stem_name(&path)));
    }
    Ok(names)
}

/// The file name without its `.yaml`/`.yml` extension, when that is a valid tenant name.
fn stem_name(path: &Path) -> Option<TenantName> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".yaml").or_else(|| name.strip_suffix(".yml")).unwrap_or(name);
    TenantName::try_from(stem.to_string()).ok()
}

/// An error about the value at `pointer` in the spec file at `path`, found after loading (for
/// example a secret that does not decrypt), placed at that value's line and column. The file is
/// read again; when it cannot be, the error points at its start.
pub fn error_at(path: &Path, pointer: &str, message: String) -> SpecError {
    let pos = read_source(path).map(|text| PositionIndex::build(&text).value(pointer)).unwrap_or(Pos::START);
    SpecError::Invalid {
        path: path.to_path_buf(),
        line: pos.line,
        column: pos.column,
        pointer: pointer.to_string(),
        message,
    }
}
