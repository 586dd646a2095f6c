//! What every server answers, whatever the framework: the routes and the
//! streamed download body.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use albany_bench::CHUNK_SIZE;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// One chunk of the download body, static so that producing a chunk
/// allocates nothing.
static CHUNK: [u8; CHUNK_SIZE] = [b'x'; CHUNK_SIZE];

/// The `Content-Type` of `GET /` and of the small text answers.
pub(crate) const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// [`TEXT_PLAIN`] as a header value, validated at compile time so that
/// the Albany and raw-hyper applications do the same work per request.
pub(crate) const TEXT_PLAIN_VALUE: hyper::header::HeaderValue =
    hyper::header::HeaderValue::from_static(TEXT_PLAIN);

/// [`OCTET_STREAM`] as a header value.
pub(crate) const OCTET_STREAM_VALUE: hyper::header::HeaderValue =
    hyper::header::HeaderValue::from_static(OCTET_STREAM);

/// The `Content-Type` of `GET /download`.
pub(crate) const OCTET_STREAM: &str = "application/octet-stream";

/// A request, routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `GET /` (or `HEAD /`): `200 Hello, world!`.
    Hello,
    /// `GET /download?size=N`: N bytes, chunked, in 64 KiB chunks.
    Download(u64),
    /// `POST /upload`: the body is read and discarded; the answer is its
    /// length in bytes.
    Upload,
    /// `GET /alloc`: the process's allocation count so far.
    Alloc,
    /// `GET /panic/N` (the stress harness's panics-under-load scenario):
    /// the handler panics when N is a multiple of 10 (one request in ten),
    /// and otherwise answers `200` with the body [`panic_body`]`(N)`.
    Panic(u64),
    /// A known path with another method: `405`.
    MethodNotAllowed,
    /// `/download` without a valid `size`: `400`.
    BadRequest,
    /// Anything else: `404`.
    NotFound,
}

impl Route {
    /// Routes a request by its method, path and query string.
    pub(crate) fn of(method: &str, path: &str, query: Option<&str>) -> Route {
        let get = method == "GET" || method == "HEAD";
        match path {
            "/" if get => Route::Hello,
            "/download" if get => match download_size(query) {
                Some(size) => Route::Download(size),
                None => Route::BadRequest,
            },
            "/upload" if method == "POST" => Route::Upload,
            "/alloc" if get => Route::Alloc,
            _ if get && path.starts_with("/panic/") => match path["/panic/".len()..].parse() {
                Ok(n) => Route::Panic(n),
                Err(_) => Route::BadRequest,
            },
            "/" | "/download" | "/upload" | "/alloc" => Route::MethodNotAllowed,
            _ => Route::NotFound,
        }
    }
}

/// The message of the deliberate panics of `GET /panic/N`; `main`'s panic
/// hook keeps them off stderr.
pub(crate) const DELIBERATE_PANIC: &str = "bench-server: deliberate panic";

/// Whether `GET /panic/N` panics: one N in ten.
pub(crate) fn panics(n: u64) -> bool {
    n % 10 == 0
}

/// The body of a `GET /panic/N` that does not panic: `ok N`.
pub(crate) fn panic_body(n: u64) -> String {
    format!("ok {n}")
}

/// Panics with [`DELIBERATE_PANIC`] when `n` is one that [`panics`].
pub(crate) fn maybe_panic(n: u64) {
    if panics(n) {
        std::panic::panic_any(DELIBERATE_PANIC);
    }
}

/// The `size` parameter of a query string such as `size=1048576`.
fn download_size(query: Option<&str>) -> Option<u64> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("size="))
        .and_then(|size| size.parse().ok())
}

/// The download body: `remaining` bytes in chunks of at most 64 KiB, with
/// no size hint, so that servers frame it with chunked transfer coding.
///
/// It is a `Stream` of `Bytes` (Albany, axum), an `http_body::Body`
/// (hyper) and a `futures_io::AsyncRead` (trillium).
#[derive(Debug)]
pub(crate) struct Chunks {
    remaining: u64,
}

impl Chunks {
    /// A body of `size` bytes.
    pub(crate) fn new(size: u64) -> Self {
        Chunks { remaining: size }
    }

    fn next_chunk(&mut self, most: usize) -> Option<&'static [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let len = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(most)
            .min(CHUNK_SIZE);
        self.remaining -= len as u64;
        Some(&CHUNK[..len])
    }
}

impl futures_core::Stream for Chunks {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(
            self.next_chunk(CHUNK_SIZE)
                .map(|c| Ok(Bytes::from_static(c))),
        )
    }
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(
            self.next_chunk(CHUNK_SIZE)
                .map(|c| Ok(Frame::data(Bytes::from_static(c)))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        // Unknown on purpose: the response is chunked, as a stream is.
        SizeHint::default()
    }
}

impl futures_io::AsyncRead for Chunks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let n = match self.next_chunk(buf.len()) {
            Some(chunk) => {
                buf[..chunk.len()].copy_from_slice(chunk);
                chunk.len()
            }
            None => 0,
        };
        Poll::Ready(Ok(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::of("GET", "/", None), Route::Hello);
        assert_eq!(
            Route::of("GET", "/download", Some("size=70000")),
            Route::Download(70_000)
        );
        assert_eq!(Route::of("GET", "/download", None), Route::BadRequest);
        assert_eq!(Route::of("POST", "/upload", None), Route::Upload);
        assert_eq!(Route::of("GET", "/upload", None), Route::MethodNotAllowed);
        assert_eq!(Route::of("GET", "/alloc", None), Route::Alloc);
        assert_eq!(Route::of("GET", "/nope", None), Route::NotFound);
        assert_eq!(Route::of("GET", "/panic/17", None), Route::Panic(17));
        assert_eq!(Route::of("GET", "/panic/x", None), Route::BadRequest);
        assert!(panics(20) && !panics(21));
    }

    #[test]
    fn chunks_add_up() {
        let mut chunks = Chunks::new(CHUNK_SIZE as u64 + 10);
        assert_eq!(
            chunks.next_chunk(usize::MAX).map(<[u8]>::len),
            Some(CHUNK_SIZE)
        );
        assert_eq!(chunks.next_chunk(usize::MAX).map(<[u8]>::len), Some(10));
        assert_eq!(chunks.next_chunk(usize::MAX), None);
    }
}
