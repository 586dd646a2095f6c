//! The error of a request body the server stopped waiting for.

use std::fmt;
use std::time::Duration;

/// The error of a request body that a server stopped waiting for: the
/// client sent no data for too long, or sent it slower than the server's
/// minimum rate (`albany_server::Settings::request_body_timeout` and
/// `request_body_min_rate`, spec LIMIT-14 and LIMIT-15).
///
/// The body fails with it (wrapped in [`Error`](crate::Error): recover it
/// with [`Error::downcast_ref`](crate::Error::downcast_ref));
/// [`Body::collect`](super::Body::collect) reports it as
/// [`CollectError::TimedOut`](super::CollectError::TimedOut), and
/// `albany::blocking` answers `408 Request Timeout` for it (RFC 9110
/// §15.5.9). Whatever the application answers afterwards, a server that
/// has not sent a response head yet sends `408` itself (spec LIMIT-16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutError {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Idle(Duration),
    MinRate(u64),
}

impl TimeoutError {
    /// No data arrived for `timeout` while the body was read.
    pub fn idle(timeout: Duration) -> Self {
        TimeoutError {
            kind: Kind::Idle(timeout),
        }
    }

    /// The data arrived slower than `bytes_per_second`, measured over the
    /// time spent waiting for it.
    pub fn min_rate(bytes_per_second: u64) -> Self {
        TimeoutError {
            kind: Kind::MinRate(bytes_per_second),
        }
    }

    /// The wait without data that was exceeded, for an [`idle`](Self::idle)
    /// timeout.
    pub fn idle_timeout(&self) -> Option<Duration> {
        match self.kind {
            Kind::Idle(timeout) => Some(timeout),
            Kind::MinRate(_) => None,
        }
    }

    /// The minimum rate, in bytes per second, that the body fell below,
    /// for a [`min_rate`](Self::min_rate) timeout.
    pub fn min_bytes_per_second(&self) -> Option<u64> {
        match self.kind {
            Kind::MinRate(rate) => Some(rate),
            Kind::Idle(_) => None,
        }
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Idle(timeout) => write!(
                f,
                "the request body timed out: no data for {} ms",
                timeout.as_millis()
            ),
            Kind::MinRate(rate) => write!(
                f,
                "the request body timed out: data arrived slower than {rate} bytes per second"
            ),
        }
    }
}

impl std::error::Error for TimeoutError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{Body, CollectError};
    use crate::Error;

    #[test]
    fn collect_reports_a_timeout_distinctly() {
        let stream = futures_lite::stream::iter([
            Ok(bytes::Bytes::from_static(b"abc")),
            Err(Error::new(TimeoutError::idle(Duration::from_secs(60)))),
        ]);
        let body = Body::from_stream(stream);
        let error = futures_lite::future::block_on(body.collect(1024)).unwrap_err();
        match error {
            CollectError::TimedOut(timeout) => {
                assert_eq!(timeout.idle_timeout(), Some(Duration::from_secs(60)));
                assert_eq!(
                    timeout.to_string(),
                    "the request body timed out: no data for 60000 ms"
                );
            }
            other => panic!("not a timeout: {other:?}"),
        }
        let rate = TimeoutError::min_rate(240);
        assert_eq!(rate.min_bytes_per_second(), Some(240));
        assert_eq!(rate.idle_timeout(), None);
    }
}
