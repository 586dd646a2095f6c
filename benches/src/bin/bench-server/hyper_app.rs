//! The raw-hyper application, shared by the three hyper baselines: a
//! `service_fn` over hyper's own request and body types.

use std::convert::Infallible;

use albany_bench::HELLO;
use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response, StatusCode};

use crate::alloc::allocations;
use crate::app::{maybe_panic, panic_body, Chunks, Route, OCTET_STREAM_VALUE, TEXT_PLAIN_VALUE};

/// A response body: a whole `Bytes` (`Content-Length`) or the download
/// stream (chunked).
pub(crate) type HyperBody = Either<Full<Bytes>, Chunks>;

/// Answers one request.
pub(crate) async fn handle(request: Request<Incoming>) -> Result<Response<HyperBody>, Infallible> {
    let uri = request.uri();
    let response = match Route::of(request.method().as_str(), uri.path(), uri.query()) {
        Route::Hello => text(StatusCode::OK, Bytes::from_static(HELLO.as_bytes())),
        Route::Download(size) => {
            let mut response = Response::new(Either::Right(Chunks::new(size)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, OCTET_STREAM_VALUE);
            response
        }
        Route::Upload => upload(request.into_body()).await,
        Route::Alloc => text(StatusCode::OK, allocations().to_string().into()),
        // hyper catches no panic: the connection's task ends with it (the
        // stress harness's reference figure).
        Route::Panic(n) => {
            maybe_panic(n);
            text(StatusCode::OK, panic_body(n).into())
        }
        Route::MethodNotAllowed => text(
            StatusCode::METHOD_NOT_ALLOWED,
            Bytes::from_static(b"Method Not Allowed\n"),
        ),
        Route::BadRequest => text(
            StatusCode::BAD_REQUEST,
            Bytes::from_static(b"Bad Request\n"),
        ),
        Route::NotFound => text(StatusCode::NOT_FOUND, Bytes::from_static(b"Not Found\n")),
    };
    Ok(response)
}

/// Reads the request body frame by frame, keeping nothing, and answers
/// the number of bytes read.
async fn upload(mut body: Incoming) -> Response<HyperBody> {
    let mut read = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    read += data.len() as u64;
                }
            }
            Err(_) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    Bytes::from_static(b"Bad Request\n"),
                )
            }
        }
    }
    text(StatusCode::OK, read.to_string().into())
}

fn text(status: StatusCode, body: Bytes) -> Response<HyperBody> {
    let mut response = Response::new(Either::Left(Full::new(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, TEXT_PLAIN_VALUE);
    response
}
