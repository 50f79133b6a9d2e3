//! `.dockerignore`: which paths of a build context `docker build` leaves out of what it sends.
//!
//! Written here because no maintained crate implements Docker's rules: the crates for ignore
//! files (`ignore`, `globset`-based ones) follow gitignore, which differs in ways that change what
//! is sent (a gitignore pattern without a slash matches at any depth, a trailing slash means
//! "directories only", and nothing below an excluded directory can be re-included), and the
//! crates named for dockerignore only classify lines. What follows is the reference
//! implementation Docker uses (moby's `patternmatcher` and `ignorefile`), rule for rule:
//!
//! - **Reading the file.** A UTF-8 byte order mark is dropped; a line starting with `#` (in
//!   column 1) is a comment; each line is trimmed, and blank lines are skipped; `!` starts an
//!   exception; the pattern is cleaned as Go's `filepath.Clean` cleans it and a leading `/` is
//!   dropped, so `/foo`, `./foo` and `foo/` all mean `foo`, relative to the context root.
//! - **Syntax.** A pattern must be valid for Go's `filepath.Match` (`[` classes closed, no
//!   trailing `\`, no empty or half ranges); a bare `!` is refused.
//! - **A pattern's meaning.** It is turned into a regular expression as moby does: `*` is any run
//!   of characters but `/`, `?` one character but `/`, `**` any number of directories (`**/`
//!   included, so `**/x` matches `x` too) and a trailing `**` anything; `[...]` is a character
//!   class (negated by `^`); `\` escapes the next character; `.+()|{}$` are literal. moby's
//!   shortcuts for patterns without wildcards are kept too, since they decide some odd cases: a
//!   pattern with no wildcard compares whole paths, `prefix/**` is a prefix test and `**suffix`
//!   a suffix test.
//! - **Matching.** A pattern matches a path when it matches the path itself or any of its parent
//!   directories (moby's `MatchesOrParentMatches`), so `node_modules` excludes everything below
//!   it; patterns apply in order and the last one that matches decides, so a later `!` line
//!   re-includes.
//!
//! Where a pattern uses regular-expression syntax that `filepath.Match` lets through and Go's and
//! Rust's regular expressions read differently (escapes like `\d` or `\Q`), the result may differ
//! from Docker's; no ordinary pattern does.

use std::fmt;

/// The parsed `.dockerignore` of one context.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned pattern, without its `!`.
    text: String,
    exception: bool,
    matcher: Matcher,
}

#[derive(Debug, Clone)]
enum Matcher {
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
    Suffix(Vec<u8>),
    Regex(regex::Regex),
}

/// A line of a `.dockerignore` that Docker would refuse too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreError {
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for IgnoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ".dockerignore line {}: {}", self.line, self.reason)
    }
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> Result<Self, IgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (i, line) in text.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let pattern = Pattern::parse(line).map_err(|reason| IgnoreError { line: i + 1, reason })?;
            patterns.push(pattern);
        }
        Ok(Self { patterns })
    }

    /// Adds the exception `!path` when `path` (clean, relative) is excluded: the Docker client
    /// does this for the Dockerfile and `.dockerignore`, which are always sent. The exception
    /// names exactly `path`, even when it holds wildcard characters.
    pub fn keep(&mut self, path: &str) {
        if self.excludes(path.as_bytes()) {
            let matcher = Matcher::Exact(path.as_bytes().to_vec());
            self.patterns.push(Pattern { text: path.to_string(), exception: true, matcher });
        }
    }

    /// Whether `path` (relative to the context root, `/`-separated, clean) is left out.
    pub fn excludes(&self, path: &[u8]) -> bool {
        let parents: Vec<&[u8]> =
            path.iter().enumerate().filter(|(_, b)| **b == b'/').map(|(i, _)| &path[..i]).collect();
        let mut excluded = false;
        for pattern in &self.patterns {
            // An exclusion can change nothing once excluded, an exception nothing until then.
            if pattern.exception != excluded {
                continue;
            }
            if pattern.matches(path) || parents.iter().any(|p| pattern.matches(p)) {
                excluded = !pattern.exception;
            }
        }
        excluded
    }

    /// Whether Docker looks inside the excluded directory `dir` for exceptions: only when an
    /// exception's text starts with `dir/` (so `!dir/keep` does, and `!**/keep` does not).
    pub fn may_include_below(&self, dir: &[u8]) -> bool {
        let mut prefix = dir.to_vec();
        prefix.push(b'/');
        self.patterns.iter().filter(|p| p.exception).any(|p| {
            let mut text = p.text.as_bytes().to_vec();
            text.push(b'/');
            text.starts_with(&prefix)
        })
    }
}

impl Pattern {
    /// One trimmed, non-comment line.
    fn parse(line: &str) -> Result<Self, String> {
        // As the file reader does: `!`, trim again, clean, drop a leading `/`.
        let (exception, rest) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let mut cleaned = String::new();
        if !rest.is_empty() {
            cleaned = clean(rest);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        // As the matcher does with what the reader gave it: clean the whole line once more.
        let whole = clean(&if exception { format!("!{cleaned}") } else { cleaned });
        let (exception, text) = match whole.strip_prefix('!') {
            Some("") => return Err("a lone \"!\" is not a pattern".to_string()),
            Some(rest) => (true, rest.to_string()),
            None => (false, whole.clone()),
        };
        if !glob_syntax_ok(text.as_bytes()) {
            return Err(format!("{text:?} is not a valid pattern (Go filepath.Match syntax)"));
        }
        let matcher = compile(&text).map_err(|e| format!("{text:?} is not a valid pattern: {e}"))?;
        Ok(Self { text, exception, matcher })
    }

    fn matches(&self, path: &[u8]) -> bool {
        match &self.matcher {
            Matcher::Exact(p) => path == p.as_slice(),
            Matcher::Prefix(p) => path.starts_with(p),
            Matcher::Suffix(s) => path.ends_with(s) || (s.first() == Some(&b'/') && path == &s[1..]),
            Matcher::Regex(re) => re.is_match(&go_string(path)),
        }
    }
}

/// Go's `filepath.Clean`, lexically: one slash between names, no `.`, `..` resolved against the
/// name before it (and dropped at the root), `.` for nothing.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(last) if *last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            name => parts.push(name),
        }
    }
    let body = parts.join("/");
    if rooted {
        format!("/{body}")
    } else if body.is_empty() {
        ".".to_string()
    } else {
        body
    }
}

/// Whether Go's `filepath.Match` accepts `pattern` (it checks every chunk between stars).
fn glob_syntax_ok(mut pattern: &[u8]) -> bool {
    while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        if star && chunk.is_empty() {
            return true;
        }
        if !chunk_syntax_ok(chunk) {
            return false;
        }
        pattern = rest;
    }
    true
}

/// Leading stars, then the text up to the next star outside a class.
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while pattern.first() == Some(&b'*') {
        pattern = &pattern[1..];
        star = true;
    }
    let mut in_class = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'*' if !in_class => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

fn chunk_syntax_ok(mut chunk: &[u8]) -> bool {
    while let Some(&first) = chunk.first() {
        match first {
            b'[' => {
                chunk = &chunk[1..];
                if chunk.first() == Some(&b'^') {
                    chunk = &chunk[1..];
                }
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let Some(rest) = class_char(chunk) else { return false };
                    chunk = rest;
                    if chunk[0] == b'-' {
                        let Some(rest) = class_char(&chunk[1..]) else { return false };
                        chunk = rest;
                    }
                    ranges += 1;
                }
            }
            b'\\' => {
                if chunk.len() < 2 {
                    return false;
                }
                chunk = &chunk[2..];
            }
            _ => chunk = &chunk[1..],
        }
    }
    true
}

/// One (possibly escaped) character of a class; what follows it, which must not be empty.
fn class_char(chunk: &[u8]) -> Option<&[u8]> {
    let mut c = match chunk.first() {
        None | Some(b'-') | Some(b']') => return None,
        Some(_) => chunk,
    };
    if c[0] == b'\\' {
        c = &c[1..];
        if c.is_empty() {
            return None;
        }
    }
    let width = match c[0] {
        b if b < 0x80 => 1,
        b if b >= 0xf0 => 4,
        b if b >= 0xe0 => 3,
        _ => 2,
    };
    let rest = c.get(width..)?;
    (!rest.is_empty()).then_some(rest)
}

/// moby's translation of a pattern into a regular expression, with its shortcuts.
fn compile(pattern: &str) -> Result<Matcher, regex::Error> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("^");
    let mut kind = Kind::Exact;
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        re.push_str(".*");
                        kind = Kind::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    kind = Kind::Regex;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind = Kind::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                kind = Kind::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => match chars.get(i) {
                Some(&next) => {
                    re.push('\\');
                    re.push(next);
                    i += 1;
                    kind = Kind::Regex;
                }
                None => re.push('\\'),
            },
            '[' | ']' => {
                re.push(ch);
                kind = Kind::Regex;
            }
            _ => re.push(ch),
        }
        first = false;
    }
    Ok(match kind {
        Kind::Exact => Matcher::Exact(pattern.as_bytes().to_vec()),
        Kind::Prefix => Matcher::Prefix(pattern.as_bytes()[..pattern.len() - 2].to_vec()),
        Kind::Suffix => Matcher::Suffix(pattern.as_bytes()[2..].to_vec()),
        Kind::Regex => {
            re.push('$');
            Matcher::Regex(regex::RegexBuilder::new(&rust_regex(&re)).octal(true).build()?)
        }
    })
}

/// A Go regular expression as the Rust `regex` crate reads it: inside a class Go takes `[`, `&`
/// and `~` literally where Rust would nest or combine classes, and Go takes a `]` outside any
/// class literally.
fn rust_regex(go: &str) -> String {
    let chars: Vec<char> = go.chars().collect();
    let mut out = String::with_capacity(go.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match (in_class, ch) {
            (_, '\\') => {
                out.push('\\');
                if let Some(&next) = chars.get(i) {
                    out.push(next);
                    i += 1;
                }
            }
            (false, '[') => {
                out.push('[');
                in_class = true;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            (false, ']') => out.push_str("\\]"),
            (true, '[') if chars.get(i) == Some(&':') => {
                // A POSIX class, `[:alpha:]`: copied whole.
                out.push('[');
                while let Some(&c) = chars.get(i) {
                    out.push(c);
                    i += 1;
                    if c == ']' {
                        break;
                    }
                }
            }
            (true, '[' | '&' | '~') => {
                out.push('\\');
                out.push(ch);
            }
            (true, ']') => {
                out.push(']');
                in_class = false;
            }
            (_, c) => out.push(c),
        }
    }
    out
}

/// A path as Go's regular expressions see it: each byte that is not part of valid UTF-8 is one
/// U+FFFD.
fn go_string(path: &[u8]) -> std::borrow::Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(path) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(path.len() + 8);
    for chunk in path.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push('\u{fffd}');
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(patterns: &[&str], path: &str) -> bool {
        DockerIgnore::parse(&patterns.join("\n")).unwrap().excludes(path.as_bytes())
    }

    /// moby's own table (patternmatcher's TestMatches and the filepath.Match cases it borrows),
    /// with Docker's answers.
    #[test]
    fn single_patterns_match_as_docker_matches_them() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "fileutils.go", true),
            ("*.go", "fileutils.go", true),
            ("**", "file", true),
            ("**/", "file", true),
            ("**", "dir/file", true),
            ("**/**", "dir/file", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/dir2/file", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("a\\\\", "a\\", true),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a(b)c/def", "a(b)c/xyz", false),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true),
            ("a\\*b", "a*b", true),
            ("abc", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "ab/c", true),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[^c]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a?b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("*x", "xxx", true),
            // Parents count: a directory's pattern covers what is below it.
            ("docs", "docs/README.md", true),
            ("docs/", "docs/README.md", true),
            ("/docs", "docs/a/b", true),
            ("./docs/../docs", "docs/a", true),
            ("docs", "mydocs/a", false),
            ("docs", "a/docs", false),
            ("*/temp*", "somedir/temporary.txt", true),
            ("*/temp*", "temp", false),
            ("*/*/temp*", "somedir/subdir/temporary.txt", true),
            ("temp?", "tempa", true),
            ("temp?", "temp/x", false),
            // moby's shortcuts: `**x` is a plain suffix test, `x**` a plain prefix test.
            ("**foo", "barfoo", true),
            ("foo**", "foobar/x", true),
            ("[*]", "]", true),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(excluded(&[pattern], path), *want, "pattern {pattern:?}, path {path:?}");
        }
    }

    #[test]
    fn the_last_matching_line_decides() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["!fileutils.go", "*.go"], "fileutils.go", true),
            (&["*.go", "!fileutils.go"], "fileutils.go", false),
            (&["docs", "!docs/README.md"], "docs/README.md", false),
            (&["docs/", "!docs/README.md"], "docs/README.md", false),
            (&["docs/*", "!docs/README.md"], "docs/README.md", false),
            (&["docs/*", "!docs/README.md"], "docs/other.md", true),
            (&["**", "!util/docker/web"], "util/docker/web/foo", false),
            (&["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", true),
            (&["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false),
            (&["*", "!dist"], "dist/stub-runtime", false),
            (&["*", "!dist"], "target/debug/x", true),
            (&["*.md", "!README*.md", "README-secret.md"], "README-secret.md", true),
            (&["*.md", "!README*.md", "README-secret.md"], "README-public.md", false),
        ];
        for (patterns, path, want) in cases {
            assert_eq!(excluded(patterns, path), *want, "patterns {patterns:?}, path {path:?}");
        }
    }

    #[test]
    fn the_file_is_read_as_docker_reads_it() {
        let ignore =
            DockerIgnore::parse("\u{feff}# a comment\n  # not a comment  \n\n\t secret.txt \r\n! keep \n").unwrap();
        assert!(ignore.excludes(b"secret.txt"));
        assert!(ignore.excludes(b"# not a comment"), "only column 1 starts a comment");
        assert!(!ignore.excludes(b"a comment"));
        assert!(!ignore.excludes(b"keep"));
        assert!(DockerIgnore::parse("").unwrap().patterns.is_empty());
        assert!(DockerIgnore::parse("# only\n\n").unwrap().patterns.is_empty());
    }

    #[test]
    fn patterns_docker_refuses_are_refused_with_their_line() {
        for (text, line) in [
            ("ok\n!", 2),
            ("!/", 1),
            ("[", 1),
            ("a[", 1),
            ("[^", 1),
            ("[^bc", 1),
            ("[]a]", 1),
            ("[-]", 1),
            ("[x-]", 1),
            ("[-x]", 1),
            ("[a-b-c]", 1),
            ("ok\nfine\nx\\", 3),
            // Valid for filepath.Match, but not as a regular expression (a backwards range).
            ("[Local-Only]/", 1),
        ] {
            let error = DockerIgnore::parse(text).unwrap_err();
            assert_eq!(error.line, line, "{text:?}: {error}");
        }
    }

    #[test]
    fn exceptions_open_an_excluded_directory_only_when_they_name_it() {
        let ignore = DockerIgnore::parse("vendor\n!vendor/keep\n!**/other\n").unwrap();
        assert!(ignore.may_include_below(b"vendor"));
        assert!(!ignore.may_include_below(b"other"));
        assert!(!ignore.may_include_below(b"vend"));
        assert!(!DockerIgnore::parse("vendor").unwrap().may_include_below(b"vendor"));
    }

    #[test]
    fn the_dockerfile_and_the_ignore_file_are_kept() {
        let mut ignore = DockerIgnore::parse("*\n").unwrap();
        ignore.keep(".dockerignore");
        ignore.keep("build/Dockerfile");
        assert!(!ignore.excludes(b".dockerignore"));
        assert!(!ignore.excludes(b"build/Dockerfile"));
        assert!(ignore.excludes(b"build"));
        assert!(ignore.excludes(b"build/other"));
        assert!(ignore.may_include_below(b"build"));
    }

    #[test]
    fn paths_that_are_not_utf8_match_as_in_go() {
        assert!(excluded(&["a?b"], "a\u{fffd}b"));
        assert!(DockerIgnore::parse("a?b").unwrap().excludes(b"a\xffb"));
        assert!(!DockerIgnore::parse("a?b").unwrap().excludes(b"a\xff\xfeb"));
        assert!(DockerIgnore::parse("*.bin").unwrap().excludes(b"\xff\xfe.bin"));
    }

    #[test]
    fn go_clean_is_lexical() {
        for (path, want) in [
            ("a//b/./c/", "a/b/c"),
            ("a/../..", ".."),
            ("../../a", "../../a"),
            ("/..", "/"),
            ("/../a", "/a"),
            (".", "."),
            ("a/..", "."),
        ] {
            assert_eq!(clean(path), want, "{path}");
        }
    }
}
