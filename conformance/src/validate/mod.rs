//! The application validator: [`Validate`] wraps an application and checks
//! every response it returns against the rules of the specification's
//! chapter "Application validator" (`VAL-1` to `VAL-11`).
//!
//! Where the conformance suite tests a server, the validator tests an
//! application (or a framework, or middleware): wrap it, run your tests or
//! your development server, and every response that breaks a rule is
//! reported with the rule's id.
//!
//! The head of a response is checked as soon as the application returns it.
//! The body is wrapped in a checking body that forwards the frames unchanged
//! and checks them as the server polls them; it also checks what a server
//! cannot see, by polling the application's body once more after the end
//! and once at once after trailers.
//!
//! | rule | violation | enforces |
//! | --- | --- | --- |
//! | `VAL-1` | a status outside 100..=599, a 1xx other than 101, a 101 over HTTP/2 or to a request without an `OnUpgrade` | RESP-12, EXT-4 |
//! | `VAL-2` | a field name that is not a token, a field value with a control character other than HTAB | RESP-27 |
//! | `VAL-3` | `Connection` (other than `close`, or `upgrade` on a 101), `Keep-Alive`, `Proxy-Connection`, `TE`, `Upgrade` (other than on a 101) | RESP-14 |
//! | `VAL-4` | `Transfer-Encoding` | RESP-3 |
//! | `VAL-5` | a response to HEAD, or a 1xx, 204 or 304, whose body's size hint has a lower bound above 0 or that yields data | RESP-26, RESP-10 |
//! | `VAL-6` | on a response with content, a `Content-Length` that is not one decimal number, or not the number of bytes the body yields | RESP-5 |
//! | `VAL-7` | a size hint the body does not keep | BODY-6 |
//! | `VAL-8` | trailers on a length-framed body, not named in `Trailer`, or not allowed in trailers | RESP-19, RESP-21 |
//! | `VAL-9` | a frame after trailers, or after `None`, an error or `is_end_stream()` | BODY-3, BODY-4 |
//! | `VAL-10` | a response `version` that is neither HTTP/1.1 (the default) nor the request's | RESP-22 |
//!
//! [`Rule`] documents each rule and the choices it makes. `VAL-11` is how a
//! violation is reported: every violation is recorded as a [`Violation`] in
//! the validator's [`Violations`] collector, then the validator panics or
//! logs, as its [`Action`] says (by default, it panics in builds with debug
//! assertions and logs otherwise).
//!
//! # Example
//!
//! ```
//! use albany::{from_fn, Application, Body, Request, Response};
//! use albany_conformance::validate::{Action, Rule, Validate};
//!
//! // Declares 3 bytes and sends 5.
//! let app = from_fn(|_request: Request| async {
//!     let mut response = Response::new(Body::from("hello"));
//!     response.headers_mut().insert("content-length", "3".parse().unwrap());
//!     response
//! });
//! let validate = Validate::new(app).with_action(Action::Log);
//! let violations = validate.violations().clone();
//!
//! futures_lite::future::block_on(async {
//!     let request = Request::get("/greeting").body(Body::empty()).unwrap();
//!     let response = validate.call(request).await;
//!     response.into_body().to_bytes(1024).await.unwrap();
//! });
//! let found = violations.take();
//! assert_eq!(found[0].rule, Rule::ContentLength);
//! assert_eq!(found[0].rule.id(), "VAL-6");
//! assert_eq!(found[0].uri, "/greeting");
//! ```

mod body;
mod fields;
mod head;
mod report;
mod rule;

use std::fmt;

use albany::{Application, Body, Request, Response};

pub use report::{Action, Violation, Violations};
pub use rule::Rule;

/// An [`Application`] that checks every response of the application it
/// wraps; see the [module documentation](self).
///
/// It changes nothing in the responses: the head is passed on as the
/// application made it and the body's frames, size hint and end are
/// forwarded. Two exceptions keep a broken body from confusing the server:
/// after the end of the body (`None`, an error, `is_end_stream()`, or a
/// frame after trailers) the checking body returns `None` whatever the
/// application's body would do, and it polls that body once more after its
/// end to check it (VAL-9).
///
/// Each response's body is boxed once more (one allocation).
#[derive(Clone)]
pub struct Validate<A> {
    inner: A,
    action: Action,
    violations: Violations,
}

impl<A: Application> Validate<A> {
    /// Wraps `application`, with the default [`Action`] (panic with debug
    /// assertions, log without) and a new [`Violations`] collector.
    pub fn new(application: A) -> Self {
        Validate {
            inner: application,
            action: Action::default(),
            violations: Violations::new(),
        }
    }
}

impl<A> Validate<A> {
    /// Sets what to do with a violation besides recording it.
    pub fn with_action(mut self, action: Action) -> Self {
        self.action = action;
        self
    }

    /// Records violations in `violations`, which may be shared with other
    /// validators, instead of a collector of its own.
    pub fn with_violations(mut self, violations: Violations) -> Self {
        self.violations = violations;
        self
    }

    /// What the validator does with a violation besides recording it.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The collector of the violations found; clone it to keep it.
    pub fn violations(&self) -> &Violations {
        &self.violations
    }

    /// The wrapped application.
    pub fn get_ref(&self) -> &A {
        &self.inner
    }

    /// Returns the wrapped application.
    pub fn into_inner(self) -> A {
        self.inner
    }
}

impl<A> fmt::Debug for Validate<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validate")
            .field("action", &self.action)
            .field("violations", &self.violations.len())
            .finish_non_exhaustive()
    }
}

impl<A: Application> Application for Validate<A> {
    async fn call(&self, request: Request) -> Response {
        let request_info = head::RequestInfo::of(&request);
        let response = self.inner.call(request).await;
        let mut reporter = report::Reporter::new(
            self.action,
            self.violations.clone(),
            request_info.method.clone(),
            request_info.uri.clone(),
        );
        let (parts, body) = response.into_parts();
        let expect = head::check(&request_info, &parts, &body, &mut reporter);
        let body = Body::new(body::CheckedBody::new(body, expect, reporter));
        Response::from_parts(parts, body)
    }
}
