use std::error::Error as StdError;
use std::fmt;

/// A type-erased error: `Box<dyn std::error::Error + Send + Sync>`.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The error type of [`Body`](crate::Body).
///
/// A body error means the body did not end normally: the client went away
/// while a request body was being read, a producer aborted a response body,
/// or a stream yielded an error. A server that sees it while writing a
/// response aborts that response (it never presents it as complete).
///
/// `Error` wraps any error; [`Error::into_inner`] and
/// [`Error::downcast_ref`] recover the original.
pub struct Error {
    inner: BoxError,
}

impl Error {
    /// Wraps an error. An `Error` passed in is returned as it is, not wrapped twice.
    pub fn new(error: impl Into<BoxError>) -> Self {
        let inner = error.into();
        match inner.downcast::<Error>() {
            Ok(error) => *error,
            Err(inner) => Error { inner },
        }
    }

    /// Returns the wrapped error.
    pub fn into_inner(self) -> BoxError {
        self.inner
    }

    /// Returns a reference to the wrapped error if it is of type `E`.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.inner.downcast_ref::<E>()
    }

    /// Returns `true` if the wrapped error is of type `E`.
    pub fn is<E: StdError + 'static>(&self) -> bool {
        self.inner.is::<E>()
    }

    pub(crate) fn msg(message: &'static str) -> Self {
        Error {
            inner: message.into(),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_does_not_wrap_twice() {
        let error = Error::new(Error::new(std::io::Error::other("boom")));
        assert!(error.is::<std::io::Error>());
        assert_eq!(error.to_string(), "boom");
    }
}
