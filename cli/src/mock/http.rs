//! Just enough HTTP/1.1 for the mock server (and `wflo serve`, which shares it): read a request
//! (Content-Length or chunked bodies) within fixed limits, write a response, or stream
//! server-sent events with chunked encoding — and, for fault tests, end a stream early or reset
//! the connection.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;

// Limits on what one client can make the server hold. The mock is a test fixture, but it is a
// socket server all the same: without them a client that sends a header line with no end, or
// headers with no end, makes its connection thread buffer until memory runs out. Each limit is
// far above what an HTTP client library sends (a few hundred bytes of head) and in line with
// common servers (nginx allows 8 KiB per header line by default, Node 16 KiB for a whole head),
// so a real client never meets them.

/// The longest request line or header line, its CRLF not counted: longer is answered 431.
pub const MAX_LINE: usize = 16 * 1024;
/// The most header lines one request may have (trailers of a chunked body likewise): more is
/// answered 431.
pub const MAX_HEADERS: usize = 100;
/// The largest request head (request line, headers and their line ends): larger is answered
/// 431. Without it, 100 lines of 16 KiB each would still be 1.6 MiB per connection.
pub const MAX_HEAD: usize = 64 * 1024;
/// The largest request body, by Content-Length or chunked: larger is answered 413 before any of
/// it is read. Generous, since a prompt may carry images or documents inline.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// A parsed request.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// What arrived on a connection.
#[derive(Debug)]
pub enum Incoming {
    /// A complete request.
    Request(Request),
    /// The client closed the connection between requests.
    Closed,
    /// A request the server will not take (over a limit, malformed): answer `status` with
    /// `message`, then close — the rest of what the client sends is never read.
    Refused { status: u16, message: String },
}

fn refused(status: u16, message: impl Into<String>) -> io::Result<Incoming> {
    Ok(Incoming::Refused {
        status,
        message: message.into(),
    })
}

/// How reading one line ended.
enum Line {
    /// The line, its line end removed, is in the buffer; this many bytes were consumed.
    Read(usize),
    /// The connection ended before any byte of the line.
    Eof,
    /// The line would be longer than allowed; nothing more of it was read.
    TooLong,
}

/// Reads one line ending in LF (its CR, if any, and LF removed) into `line`, taking at most
/// `max` bytes from `reader`, line end included. A longer line is `Line::TooLong`, with no more
/// than `max` bytes of it consumed — so the memory one line costs is bounded by `max` plus the
/// reader's own buffer, however long the client keeps sending.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    line.clear();
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return if line.is_empty() {
                Ok(Line::Eof)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if line.len() + take > max {
            return Ok(Line::TooLong);
        }
        line.extend_from_slice(&available[..take]);
        reader.consume(take);
        if done {
            let consumed = line.len();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Line::Read(consumed));
        }
    }
}

/// Reads the lines of a head (or a chunked body's trailers) within the limits, `head_len`
/// counting the bytes taken so far. `Ok(Err(message))` when a limit is crossed.
struct HeadReader {
    head_len: usize,
    line: Vec<u8>,
}

impl HeadReader {
    fn new() -> HeadReader {
        HeadReader {
            head_len: 0,
            line: Vec::new(),
        }
    }

    /// The next line, or why it was refused (431); `Ok(None)` at end of input.
    fn next(&mut self, reader: &mut impl BufRead) -> io::Result<Result<Option<String>, String>> {
        let room = MAX_HEAD - self.head_len;
        let max = room.min(MAX_LINE + 2);
        match read_line(reader, &mut self.line, max)? {
            Line::Eof => Ok(Ok(None)),
            Line::TooLong if room < MAX_LINE + 2 => {
                Ok(Err(format!("request head is larger than {MAX_HEAD} bytes")))
            }
            Line::TooLong => Ok(Err(format!(
                "a request or header line is longer than {MAX_LINE} bytes"
            ))),
            Line::Read(consumed) => {
                self.head_len += consumed;
                if self.line.len() > MAX_LINE {
                    return Ok(Err(format!(
                        "a request or header line is longer than {MAX_LINE} bytes"
                    )));
                }
                Ok(Ok(Some(String::from_utf8_lossy(&self.line).into_owned())))
            }
        }
    }

    /// Header lines up to the empty line that ends them, at most `MAX_HEADERS`.
    fn headers(
        &mut self,
        reader: &mut impl BufRead,
    ) -> io::Result<Result<Vec<(String, String)>, String>> {
        let mut headers = Vec::new();
        for count in 1.. {
            let line = match self.next(reader)? {
                Ok(Some(l)) => l,
                Ok(None) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Err(message) => return Ok(Err(message)),
            };
            if line.is_empty() {
                break;
            }
            if count > MAX_HEADERS {
                return Ok(Err(format!("more than {MAX_HEADERS} header lines")));
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        Ok(Ok(headers))
    }
}

/// Reads one request. `Ok(Incoming::Closed)` when the client closed the connection between
/// requests; an error when it went away (or failed) in the middle of one.
pub fn read_request(reader: &mut impl BufRead) -> io::Result<Incoming> {
    read_request_within(reader, MAX_BODY)
}

/// [`read_request`] with a smaller body limit (`wflo serve` takes none: it answers GETs only).
pub fn read_request_within(reader: &mut impl BufRead, max_body: usize) -> io::Result<Incoming> {
    let mut head = HeadReader::new();
    // A server should ignore empty lines before a request line (RFC 9112, 2.2); they count
    // towards the head's size.
    let request_line = loop {
        match head.next(reader)? {
            Ok(None) => return Ok(Incoming::Closed),
            Ok(Some(l)) if l.is_empty() => continue,
            Ok(Some(l)) => break l,
            Err(message) => return refused(431, message),
        }
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return refused(400, "bad request line");
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let headers = match head.headers(reader)? {
        Ok(h) => h,
        Err(message) => return refused(431, message),
    };
    let mut req = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        match read_chunked(reader, max_body)? {
            Ok(body) => req.body = body,
            Err((status, message)) => return refused(status, message),
        }
    } else if let Some(len) = req.header("content-length") {
        let Ok(len) = len.parse::<u64>() else {
            return refused(400, "bad Content-Length");
        };
        if len > max_body as u64 {
            return refused(413, format!("request body is larger than {max_body} bytes"));
        }
        // Grows as bytes arrive: a Content-Length alone reserves nothing.
        let mut body = Vec::with_capacity((len as usize).min(64 * 1024));
        reader.take(len).read_to_end(&mut body)?;
        if body.len() as u64 != len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        req.body = body;
    }
    Ok(Incoming::Request(req))
}

/// A chunked body, or the status and message to refuse it with.
fn read_chunked(
    reader: &mut impl BufRead,
    max_body: usize,
) -> io::Result<Result<Vec<u8>, (u16, String)>> {
    let too_long = || (431, format!("a chunk line is longer than {MAX_LINE} bytes"));
    let mut body = Vec::new();
    let mut line = Vec::new();
    loop {
        match read_line(reader, &mut line, MAX_LINE + 2)? {
            Line::Read(_) => {}
            Line::Eof => return Err(io::ErrorKind::UnexpectedEof.into()),
            Line::TooLong => return Ok(Err(too_long())),
        }
        let text = String::from_utf8_lossy(&line);
        let Ok(size) = usize::from_str_radix(text.split(';').next().unwrap_or("").trim(), 16)
        else {
            return Ok(Err((400, "bad chunk size".into())));
        };
        if size == 0 {
            // Trailers, if any, up to the empty line: read within the head's limits, ignored.
            return Ok(match HeadReader::new().headers(reader)? {
                Ok(_) => Ok(body),
                Err(message) => Err((431, message)),
            });
        }
        if size > max_body - body.len() {
            return Ok(Err((
                413,
                format!("request body is larger than {max_body} bytes"),
            )));
        }
        let start = body.len();
        reader.take(size as u64).read_to_end(&mut body)?;
        if body.len() - start != size {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match read_line(reader, &mut line, 2)? {
            Line::Read(_) if line.is_empty() => {}
            Line::Eof => return Err(io::ErrorKind::UnexpectedEof.into()),
            _ => return Ok(Err((400, "a chunk does not end with CRLF".into()))),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

/// Answers a refused request (see [`Incoming::Refused`]) with a small JSON error and
/// `Connection: close`, then ends the connection without reading the rest of what was sent.
pub fn refuse(stream: &mut TcpStream, status: u16, message: &str) -> io::Result<()> {
    let code = match status {
        413 => "request_too_large",
        431 => "request_header_fields_too_large",
        _ => "invalid_request",
    };
    let body = serde_json::json!({"error": {
        "message": message, "type": "invalid_request_error", "param": null, "code": code,
    }})
    .to_string();
    write_json(stream, status, &body, &[("Connection", "close".into())])?;
    // FIN after the answer, so the client reads it before it learns the connection is gone.
    stream.shutdown(std::net::Shutdown::Write)
}

/// Writes a complete JSON response.
pub fn write_json(
    stream: &mut TcpStream,
    status: u16,
    body: &str,
    extra: &[(&str, String)],
) -> io::Result<()> {
    write_response(stream, status, "application/json", body.as_bytes(), extra)
}

/// Writes a complete response with a body of `content_type`.
pub fn write_response(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, String)],
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// A server-sent event stream over chunked encoding.
pub struct EventStream<'a> {
    stream: &'a mut TcpStream,
}

impl<'a> EventStream<'a> {
    pub fn start(
        stream: &'a mut TcpStream,
        extra: &[(&str, String)],
    ) -> io::Result<EventStream<'a>> {
        let mut head = String::from(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n",
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        Ok(EventStream { stream })
    }

    /// One event: `event: NAME` (when given) and `data: JSON`.
    pub fn send(&mut self, event: Option<&str>, data: &str) -> io::Result<()> {
        let mut text = String::new();
        if let Some(e) = event {
            text.push_str(&format!("event: {e}\n"));
        }
        text.push_str(&format!("data: {data}\n\n"));
        self.send_text(&text)
    }

    /// Lines of the event-stream format as they are (a comment `: ping\n\n`, `retry: 2000\n\n`),
    /// in one chunk.
    pub fn send_text(&mut self, text: &str) -> io::Result<()> {
        write!(self.stream, "{:x}\r\n{text}\r\n", text.len())?;
        self.stream.flush()
    }

    /// Ends the stream properly (the terminating chunk).
    pub fn finish(self) -> io::Result<()> {
        self.stream.write_all(b"0\r\n\r\n")?;
        self.stream.flush()
    }

    /// Resets the connection (TCP RST) in the middle of the stream.
    pub fn reset(self) {
        reset(self.stream);
    }
}

/// Closes a connection with a TCP RST (linger 0) instead of an orderly FIN.
pub fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(std::time::Duration::ZERO));
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    /// An endless client: `head`, then `line` over and over; counts the bytes taken from it.
    struct Endless {
        head: Vec<u8>,
        line: Vec<u8>,
        at: usize,
        taken: usize,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            for b in buf.iter_mut() {
                *b = match self.head.get(self.at) {
                    Some(&h) => h,
                    None => self.line[(self.at - self.head.len()) % self.line.len()],
                };
                self.at += 1;
            }
            self.taken += buf.len();
            Ok(buf.len())
        }
    }

    /// Reads from an endless client; what came of it and how many bytes were taken.
    fn endless(head: &str, line: &[u8]) -> (Incoming, usize) {
        let mut reader = BufReader::new(Endless {
            head: head.as_bytes().to_vec(),
            line: line.to_vec(),
            at: 0,
            taken: 0,
        });
        let incoming = read_request(&mut reader).unwrap();
        (incoming, reader.get_ref().taken)
    }

    /// The reader's own buffer: the most taken beyond a limit.
    const SLACK: usize = 8 * 1024;

    fn assert_refused(incoming: &Incoming, status: u16, needle: &str) {
        match incoming {
            Incoming::Refused { status: s, message } => {
                assert_eq!(*s, status, "{message}");
                assert!(message.contains(needle), "'{needle}' not in '{message}'");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_endless_line_is_refused_within_the_line_limit() {
        let (incoming, taken) = endless("", b"x");
        assert_refused(&incoming, 431, "longer than 16384");
        assert!(taken <= MAX_LINE + 2 + SLACK, "took {taken} bytes");
        let (incoming, taken) = endless("GET / HTTP/1.1\r\nX-Long: ", b"x");
        assert_refused(&incoming, 431, "longer than 16384");
        assert!(taken <= MAX_LINE + 2 + SLACK + 32, "took {taken} bytes");
    }

    #[test]
    fn endless_headers_are_refused_at_the_count_or_the_head_size() {
        let (incoming, taken) = endless("GET / HTTP/1.1\r\n", b"X-A: b\r\n");
        assert_refused(&incoming, 431, "more than 100 header lines");
        assert!(taken <= 102 * 8 + SLACK, "took {taken} bytes");
        let mut line = vec![b'y'; 10_000];
        line.extend_from_slice(b"\r\n");
        let (incoming, taken) = endless("GET / HTTP/1.1\r\n", &line);
        assert_refused(&incoming, 431, "larger than 65536");
        assert!(taken <= MAX_HEAD + SLACK, "took {taken} bytes");
    }

    #[test]
    fn an_endless_chunk_size_line_is_refused() {
        let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let (incoming, taken) = endless(head, b"0");
        assert_refused(&incoming, 431, "chunk line");
        assert!(
            taken <= head.len() + MAX_LINE + 2 + SLACK,
            "took {taken} bytes"
        );
    }

    #[test]
    fn requests_within_the_limits_read_as_before() {
        let raw = "\r\nPOST /v1/x HTTP/1.1\r\nHost: h\nContent-Length: 2\r\n\r\n{}GET /y HTTP/1.1\r\n\r\n";
        let mut reader = BufReader::new(raw.as_bytes());
        let Incoming::Request(first) = read_request(&mut reader).unwrap() else {
            panic!("first request")
        };
        assert_eq!(
            (first.method.as_str(), first.path.as_str()),
            ("POST", "/v1/x")
        );
        assert_eq!(first.header("host"), Some("h"));
        assert_eq!(first.body, b"{}");
        let Incoming::Request(second) = read_request(&mut reader).unwrap() else {
            panic!("second request")
        };
        assert_eq!(second.path, "/y");
        assert!(matches!(
            read_request(&mut reader).unwrap(),
            Incoming::Closed
        ));
        // Cut off in the middle of a request: an error, not a clean close.
        let mut reader = BufReader::new(&b"GET / HTTP/1.1\r\nHost: h"[..]);
        assert!(read_request(&mut reader).is_err());
        let mut reader = BufReader::new(&b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n{}"[..]);
        assert!(read_request(&mut reader).is_err());
        let mut reader = BufReader::new(&b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"[..]);
        assert_refused(&read_request(&mut reader).unwrap(), 400, "Content-Length");
    }
}
