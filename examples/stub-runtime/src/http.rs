//! Just enough HTTP/1.1 for the stub: reading one request (head and body) and writing one response.

use std::io::{self, BufRead, Read, Write};

/// Largest request head accepted; tenantd and health probes only ever send short ones.
const MAX_HEAD: u64 = 16 * 1024;
/// Largest body kept in memory; the stub only needs to count hook payloads, not store big ones.
const MAX_BODY: usize = 1024 * 1024;

/// A request as the routes see it. `path` has its query string removed.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

/// Why a request could not be read; each maps to a different reaction of the connection.
#[derive(Debug)]
pub enum RequestError {
    /// The socket failed or timed out: nothing sensible can be answered.
    Io(io::Error),
    /// The bytes are not an HTTP/1.x request we understand: answer 400.
    Malformed(&'static str),
    /// The head or body exceeds the limits above: answer 413.
    TooLarge,
}

impl From<io::Error> for RequestError {
    fn from(err: io::Error) -> Self {
        RequestError::Io(err)
    }
}

/// What the head says about the request, before its body is read.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    method: String,
    path: String,
    body: BodyFraming,
}

#[derive(Debug, PartialEq, Eq)]
enum BodyFraming {
    Length(usize),
    Chunked,
}

/// Reads one request. `Ok(None)` means the peer closed before sending anything (a port check).
pub fn read_request(reader: &mut impl BufRead) -> Result<Option<Request>, RequestError> {
    let Some(head) = read_head(reader)? else {
        return Ok(None);
    };
    let head = parse_head(&head)?;
    let body = match head.body {
        BodyFraming::Length(len) if len > MAX_BODY => return Err(RequestError::TooLarge),
        BodyFraming::Length(len) => {
            let mut body = vec![0; len];
            reader.read_exact(&mut body)?;
            body
        }
        BodyFraming::Chunked => read_chunked(reader)?,
    };
    Ok(Some(Request { method: head.method, path: head.path, body }))
}

/// Reads up to and including the empty line that ends the head.
fn read_head(reader: &mut impl BufRead) -> Result<Option<String>, RequestError> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let limit = MAX_HEAD.saturating_sub(before as u64);
        reader.by_ref().take(limit).read_until(b'\n', &mut head)?;
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            return String::from_utf8(head).map(Some).map_err(|_| RequestError::Malformed("request head is not UTF-8"));
        }
        if line.ends_with(b"\n") {
            continue;
        }
        return match head.len() {
            0 => Ok(None),
            len if len as u64 >= MAX_HEAD => Err(RequestError::TooLarge),
            _ => Err(RequestError::Malformed("connection closed inside the request head")),
        };
    }
}

fn parse_head(head: &str) -> Result<Head, RequestError> {
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::Malformed("request line is not `METHOD TARGET VERSION`"));
    };
    if method.is_empty() || !version.starts_with("HTTP/1.") {
        return Err(RequestError::Malformed("not an HTTP/1.x request"));
    }
    if !target.starts_with('/') {
        return Err(RequestError::Malformed("request target must be an absolute path"));
    }
    let path = target.split_once('?').map_or(target, |(path, _)| path);

    let mut body = BodyFraming::Length(0);
    for line in lines.take_while(|line| !line.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(RequestError::Malformed("header line without a colon"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let len = value.parse().map_err(|_| RequestError::Malformed("Content-Length is not a number"))?;
            body = BodyFraming::Length(len);
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            // RFC 9112 §6.3: chunked framing wins over any Content-Length.
            body = BodyFraming::Chunked;
            break;
        }
    }
    Ok(Head { method: method.to_string(), path: path.to_string(), body })
}

/// Decodes a chunked body; hook senders that stream their payload use this framing.
fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, RequestError> {
    let mut body = Vec::new();
    loop {
        let size_line = read_line(reader)?;
        let size = size_line.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size, 16).map_err(|_| RequestError::Malformed("chunk size is not hexadecimal"))?;
        if size == 0 {
            // Skip optional trailers up to the final empty line.
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(RequestError::TooLarge);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !read_line(reader)?.is_empty() {
            return Err(RequestError::Malformed("chunk data longer than its size"));
        }
    }
}

/// Reads one short line of chunk framing, without its line ending.
fn read_line(reader: &mut impl BufRead) -> Result<String, RequestError> {
    let mut line = Vec::new();
    reader.by_ref().take(1024).read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\n") {
        return Err(RequestError::Malformed("chunk framing line is cut short"));
    }
    let line = String::from_utf8(line).map_err(|_| RequestError::Malformed("chunk line is not UTF-8"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// A complete response; every response closes the connection, so no keep-alive bookkeeping exists.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// The `Allow` header of a 405 answer.
    pub allow: Option<&'static str>,
}

impl Response {
    pub fn json(status: u16, body: String) -> Self {
        Response { status, content_type: "application/json", body, allow: None }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Response { status, content_type: "text/plain; charset=utf-8", body: body.to_string(), allow: None }
    }

    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        if let Some(allow) = self.allow {
            head.push_str(&format!("Allow: {allow}\r\n"));
        }
        head.push_str("\r\n");
        // One write: a second small write on a socket waits for the peer's delayed ACK of the
        // first (Nagle's algorithm), about 40 ms per response.
        let mut response = head.into_bytes();
        response.extend_from_slice(self.body.as_bytes());
        out.write_all(&response)?;
        out.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str) -> Result<Option<Request>, RequestError> {
        read_request(&mut raw.as_bytes())
    }

    #[test]
    fn reads_a_get_and_drops_the_query() {
        let req = read("GET /health?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap().unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, "/health");
        assert!(req.body.is_empty());
    }

    #[test]
    fn reads_a_body_by_content_length_with_any_header_case() {
        let req = read("POST /hooks/aegis HTTP/1.1\r\ncontent-LENGTH: 5\r\n\r\nhello").unwrap().unwrap();
        assert_eq!(req.body, b"hello");
    }

    #[test]
    fn reads_a_chunked_body() {
        let raw = "POST /hooks/aegis HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                   3\r\nabc\r\na;ext=1\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n";
        assert_eq!(read(raw).unwrap().unwrap().body, b"abc0123456789");
    }

    #[test]
    fn accepts_bare_newlines() {
        let req = read("GET / HTTP/1.0\nHost: x\n\n").unwrap().unwrap();
        assert_eq!(req.path, "/");
    }

    #[test]
    fn an_immediate_close_is_not_a_request() {
        assert!(read("").unwrap().is_none());
    }

    #[test]
    fn rejects_what_is_not_http() {
        for raw in [
            "GET /\r\n\r\n",
            "GET / SPDY/3\r\n\r\n",
            "GET http://x/ HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nno colon\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: many\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n",
        ] {
            assert!(matches!(read(raw), Err(RequestError::Malformed(_))), "{raw:?}");
        }
    }

    #[test]
    fn rejects_oversized_heads_and_bodies() {
        let long_head = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
        assert!(matches!(read(&long_head), Err(RequestError::TooLarge)));
        let long_body = "POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n";
        assert!(matches!(read(long_body), Err(RequestError::TooLarge)));
    }

    #[test]
    fn a_short_body_is_an_io_error() {
        let raw = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
        assert!(matches!(read(raw), Err(RequestError::Io(_))));
    }

    #[test]
    fn writes_a_closing_response_with_its_length() {
        let mut out = Vec::new();
        Response::json(503, r#"{"status":"degraded"}"#.to_string()).write_to(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{out}");
        assert!(out.contains("Content-Length: 21\r\n"), "{out}");
        assert!(out.contains("Connection: close\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\n{\"status\":\"degraded\"}"), "{out}");
    }

    /// Counts the writes it is given.
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_the_whole_response_in_one_write() {
        let mut out = Writes(Vec::new());
        Response::json(200, r#"{"status":"ok"}"#.to_string()).write_to(&mut out).unwrap();
        assert_eq!(out.0.len(), 1, "a response split over writes waits for a delayed ACK: {:?}", out.0);
        assert!(out.0[0].ends_with(br#"{"status":"ok"}"#));
    }
}
