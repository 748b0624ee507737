//! A scripted HTTP/1.1 server on 127.0.0.1 for integration tests.
//!
//! Built on a raw tokio `TcpListener` rather than a framework because the tests need replies a
//! framework will not produce: a body trickled one byte at a time, a connection that is
//! accepted and never answered, a reset in the middle of a body, arbitrary bytes.
//!
//! The server runs on its own thread with its own current-thread runtime, so it works the same
//! from `#[tokio::test]` tests and from plain `#[test]` tests that spawn the real binary. It
//! stops when the [`TestServer`] is dropped.
//!
//! ```ignore
//! let server = TestServer::start(|request| match request.path() {
//!     "/feed" => Reply::ok("<rss/>").header("ETag", "\"v1\""),
//!     "/slow" => Reply::ok("<rss/>").trickle(Duration::from_millis(100)),
//!     _ => Reply::not_found(),
//! });
//! fetch(server.url("/feed"));
//! assert_eq!(server.requests()[0].header("user-agent"), Some("..."));
//! ```
//!
//! Every connection carries exactly one request and is closed after the reply
//! (`Connection: close` is added unless the reply sets its own), which keeps the server simple
//! and makes each request its own connection. Request bodies are read by Content-Length or
//! chunked transfer coding.
#![allow(
    dead_code,
    reason = "shared by many test modules; each uses only some of the helpers"
)]

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use url::Url;

/// The largest request head accepted, so a confused client cannot grow memory without bound.
const MAX_HEAD: usize = 64 * 1024;

/// How long [`Reply::ResetMidBody`] waits after the partial body before resetting, so the
/// client has read the head and the bytes sent, and meets the reset inside the body.
const RESET_PAUSE: Duration = Duration::from_millis(100);

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request target as sent: path and query, e.g. `/feed?page=2`.
    pub target: String,
    /// Header fields in arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The target without its query string.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }

    /// The first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A status line, header fields and a body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Sent as given. `Content-Length` (from the body) and `Connection: close` are added
    /// unless present; a test that sets `Transfer-Encoding` must frame the body itself.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Send the response and close.
    Normal(Response),
    /// Send the head, then the body one byte every `every`.
    Trickle { response: Response, every: Duration },
    /// Read the request and never answer; the connection stays open until the server drops.
    Hang,
    /// Send the head (with the full Content-Length) and the first `sent` body bytes, then
    /// reset the connection (SO_LINGER 0, so the client sees RST rather than a clean close).
    ResetMidBody { response: Response, sent: usize },
    /// Write these bytes as the whole reply, then close.
    Raw(Vec<u8>),
}

impl Reply {
    /// 200 with `body`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::Normal(Response {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
        })
    }

    /// `status` with an empty body.
    pub fn status(status: u16) -> Reply {
        Reply::Normal(Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        })
    }

    pub fn not_found() -> Reply {
        Reply::status(404).body("not found")
    }

    /// A redirect (`status` 301, 302, 307 or 308) to `location`, absolute or relative.
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::status(status).header("Location", location)
    }

    fn response_mut(&mut self, what: &str) -> &mut Response {
        match self {
            Reply::Normal(response)
            | Reply::Trickle { response, .. }
            | Reply::ResetMidBody { response, .. } => response,
            Reply::Hang | Reply::Raw(_) => {
                panic!("Reply::{what} on a reply without a response head: {self:?}")
            }
        }
    }

    fn into_response(self, what: &str) -> Response {
        match self {
            Reply::Normal(response)
            | Reply::Trickle { response, .. }
            | Reply::ResetMidBody { response, .. } => response,
            other => panic!("Reply::{what} on a reply without a response head: {other:?}"),
        }
    }

    /// Adds a header field. Panics on [`Reply::Hang`] and [`Reply::Raw`].
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.response_mut("header")
            .headers
            .push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces the body. Panics on [`Reply::Hang`] and [`Reply::Raw`].
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.response_mut("body").body = body.into();
        self
    }

    /// The same response, its body sent one byte every `every`.
    pub fn trickle(self, every: Duration) -> Reply {
        Reply::Trickle {
            response: self.into_response("trickle"),
            every,
        }
    }

    /// The same response, reset after `sent` body bytes.
    pub fn reset_after(self, sent: usize) -> Reply {
        Reply::ResetMidBody {
            response: self.into_response("reset_after"),
            sent,
        }
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync + 'static;

/// A running server; dropping it stops the server and closes every open connection.
pub struct TestServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1 on a free port; `handler` answers every request (it runs on
    /// the server thread, once per request, after the request is recorded).
    pub fn start<F>(handler: F) -> TestServer
    where
        F: Fn(&Request) -> Reply + Send + Sync + 'static,
    {
        TestServer::start_on(std::net::Ipv4Addr::LOCALHOST, handler)
    }

    /// [`TestServer::start`] on another loopback address (127.0.0.2, ...): a host of its own
    /// to a client that limits its connections per host.
    pub fn start_on<F>(ip: std::net::Ipv4Addr, handler: F) -> TestServer
    where
        F: Fn(&Request) -> Reply + Send + Sync + 'static,
    {
        assert!(ip.is_loopback(), "test servers listen on loopback only");
        // Bound here, on the caller's thread, so the port is known and listening on return.
        let listener = std::net::TcpListener::bind((ip, 0)).expect("bind test server");
        listener
            .set_nonblocking(true)
            .expect("make test server listener non-blocking");
        let addr = listener.local_addr().expect("test server address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (shutdown, stopped) = oneshot::channel();
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = Arc::clone(&requests);
        let thread = std::thread::Builder::new()
            .name(format!("test-server-{}", addr.port()))
            .spawn(move || serve(listener, handler, recorded, stopped))
            .expect("spawn test server thread");
        TestServer {
            addr,
            requests,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// A server that answers fixed replies by path (query ignored) and 404 to anything else.
    pub fn routes<P: Into<String>>(routes: impl IntoIterator<Item = (P, Reply)>) -> TestServer {
        let routes: Vec<(String, Reply)> = routes.into_iter().map(|(p, r)| (p.into(), r)).collect();
        TestServer::start(move |request| {
            routes
                .iter()
                .find(|(path, _)| path == request.path())
                .map_or_else(Reply::not_found, |(_, reply)| reply.clone())
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port><path>`; `path` should start with `/`.
    pub fn url(&self, path: &str) -> Url {
        let separator = if path.starts_with('/') { "" } else { "/" };
        Url::parse(&format!("http://{}{separator}{path}", self.addr)).expect("test server URL")
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.requests).clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        lock(&self.requests).clear();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread has already been printed; do not panic in drop.
            let _ = thread.join();
        }
    }
}

fn lock(requests: &Mutex<Vec<Request>>) -> MutexGuard<'_, Vec<Request>> {
    // A handler that panicked poisons nothing we care about: the list is still consistent.
    requests
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn serve(
    listener: std::net::TcpListener,
    handler: Arc<Handler>,
    requests: Arc<Mutex<Vec<Request>>>,
    stopped: oneshot::Receiver<()>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test server runtime");
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener).expect("register test server listener");
        let accept = async {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of file descriptors, say: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let handler = Arc::clone(&handler);
                let requests = Arc::clone(&requests);
                tokio::spawn(async move {
                    // A client that goes away mid-reply is normal in these tests.
                    let _ = connection(stream, handler, requests).await;
                });
            }
        };
        tokio::select! {
            _ = stopped => {}
            () = accept => {}
        }
    });
    // Dropping the runtime cancels every connection task, closing hung and trickling sockets.
    drop(runtime);
}

async fn connection(
    mut stream: TcpStream,
    handler: Arc<Handler>,
    requests: Arc<Mutex<Vec<Request>>>,
) -> io::Result<()> {
    let Some(request) = read_request(&mut stream).await? else {
        return Ok(());
    };
    lock(&requests).push(request.clone());
    let head_only = request.method.eq_ignore_ascii_case("HEAD");
    match handler(&request) {
        Reply::Normal(response) => {
            stream.write_all(&head(&response)).await?;
            if !head_only {
                stream.write_all(&response.body).await?;
            }
            stream.flush().await?;
            stream.shutdown().await?;
        }
        Reply::Trickle { response, every } => {
            stream.write_all(&head(&response)).await?;
            stream.flush().await?;
            for byte in &response.body {
                tokio::time::sleep(every).await;
                stream.write_all(std::slice::from_ref(byte)).await?;
                stream.flush().await?;
            }
            stream.shutdown().await?;
        }
        Reply::Hang => std::future::pending::<()>().await,
        Reply::ResetMidBody { response, sent } => {
            stream.write_all(&head(&response)).await?;
            let sent = sent.min(response.body.len());
            stream.write_all(&response.body[..sent]).await?;
            stream.flush().await?;
            tokio::time::sleep(RESET_PAUSE).await;
            stream.set_zero_linger()?;
            drop(stream);
        }
        Reply::Raw(bytes) => {
            stream.write_all(&bytes).await?;
            stream.flush().await?;
            stream.shutdown().await?;
        }
    }
    Ok(())
}

fn head(response: &Response) -> Vec<u8> {
    let has = |name: &str| {
        response
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !has("content-length") && !has("transfer-encoding") {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    if !has("connection") {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Reads one request; `None` if the client closed before sending a whole head.
async fn read_request(stream: &mut TcpStream) -> io::Result<Option<Request>> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
        if !read_more(stream, &mut buffer).await? {
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut rest = buffer.split_off(head_end + 4);

    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let mut request = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };

    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        request.body = read_chunked(stream, rest).await?;
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().map_err(|_| invalid("bad Content-Length"))?;
        while rest.len() < length {
            if !read_more(stream, &mut rest).await? {
                return Err(invalid("request body cut short"));
            }
        }
        rest.truncate(length);
        request.body = rest;
    }
    Ok(Some(request))
}

/// Decodes a chunked request body whose first bytes are already in `buffer`.
async fn read_chunked(stream: &mut TcpStream, mut buffer: Vec<u8>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(end) = find(&buffer, b"\r\n") {
                break end;
            }
            if !read_more(stream, &mut buffer).await? {
                return Err(invalid("chunked body cut short"));
            }
        };
        let size_text = String::from_utf8_lossy(&buffer[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        buffer.drain(..line_end + 2);
        if size == 0 {
            // Trailer fields, if any, then the blank line that ends the body; consumed so that
            // closing the socket later does not turn into a reset over unread bytes.
            while !(buffer.starts_with(b"\r\n") || find(&buffer, b"\r\n\r\n").is_some()) {
                if !read_more(stream, &mut buffer).await? {
                    break;
                }
            }
            return Ok(body);
        }
        while buffer.len() < size + 2 {
            if !read_more(stream, &mut buffer).await? {
                return Err(invalid("chunked body cut short"));
            }
        }
        body.extend_from_slice(&buffer[..size]);
        buffer.drain(..size + 2);
    }
}

/// Appends what the socket has; `false` at end of stream.
async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0_u8; 8192];
    let n = stream.read(&mut chunk).await?;
    buffer.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}
