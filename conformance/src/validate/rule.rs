//! The rules the validator checks, with their fixed ids and the clauses
//! they enforce.

use std::fmt;

/// A rule of the application validator.
///
/// Each rule has a fixed id, `VAL-1` to `VAL-10` ([`Rule::id`]), defined by
/// the chapter "Application validator" of the specification, and enforces
/// the clauses that [`Rule::clause`] cites. How violations are reported is
/// `VAL-11`: see [`Action`](super::Action).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// `VAL-1`: a status outside `100..=599`; a 1xx status other than `101`;
    /// a `101` to a request that cannot be upgraded.
    ///
    /// A request can be upgraded when it reached the validator with an
    /// [`OnUpgrade`](albany::upgrade::OnUpgrade) in its extensions (a server
    /// inserts one in every request that can be upgraded, EXT-4; middleware
    /// that performs the upgrade itself takes it), unless it is an HTTP/2
    /// (or HTTP/3) request: those protocols have no `101` (RFC 9113 §8.6).
    /// The check is made before the application runs, since an application
    /// that accepts the upgrade takes the `OnUpgrade`.
    ///
    /// Enforces RESP-12 and EXT-4 (RFC 9110 §15).
    Status,
    /// `VAL-2`: a field name that is not a `token` (RFC 9110 §5.1, §5.6.2),
    /// or a field value with a control character other than HTAB: CR, LF,
    /// NUL, any other octet below 0x20, or DEL (RFC 9110 §5.5). Applies to
    /// the header section and to trailers.
    ///
    /// `obs-text` (octets 0x80 to 0xFF) is allowed: RFC 9110 §5.5 keeps it
    /// in the grammar of a field value. The `http` crate rejects control
    /// characters in values except through its `unsafe` unchecked
    /// constructor in release builds, but accepts `"` in names made by
    /// `HeaderName::from_static` and `from_lowercase`; the validator checks
    /// the bytes itself.
    ///
    /// Enforces RESP-27.
    FieldSyntax,
    /// `VAL-3`: a connection-specific field: `Connection` with an option
    /// other than `close` (or `upgrade` on a `101` that carries `Upgrade`),
    /// `Keep-Alive`, `Proxy-Connection`, `TE`, or `Upgrade` other than on a
    /// `101` with `Connection: upgrade`. (`Transfer-Encoding` is VAL-4's.)
    ///
    /// Enforces RESP-14 (RFC 9110 §7.6.1).
    ConnectionField,
    /// `VAL-4`: a `Transfer-Encoding` field set by the application.
    ///
    /// Enforces RESP-3 (RFC 9112 §6.1): framing belongs to the server.
    TransferEncoding,
    /// `VAL-5`: content on a response that carries none (to `HEAD`, or a
    /// 1xx, `204` or `304`): a body whose size hint's lower bound is above 0
    /// (checked on the head), or that yields data (checked if it is polled).
    ///
    /// A server drops such a body without polling it, so in practice the
    /// size hint decides: `Body::from("hello")` on a response to `HEAD` is
    /// reported, a stream of unknown length only if something polls data
    /// out of it. An application that wants the length a `GET` would have
    /// gives `Body::empty()` and sets `Content-Length` itself.
    ///
    /// Enforces RESP-26 and RESP-10 (RFC 9110 §9.3.2, §15.3.5, §15.4.5).
    NoContent,
    /// `VAL-6`: a `Content-Length` that is not one decimal number, or that
    /// differs from the number of data bytes the body yields before it
    /// ends: checked against the size hint on the head, against the bytes
    /// as soon as they exceed it, and at the end of the body.
    ///
    /// Only responses that carry content are checked: on a response to
    /// `HEAD`, or a 1xx, `204` or `304`, `Content-Length` gives the length a
    /// `GET` would have (RESP-5). A body that ends with an error is
    /// incomplete, not too short.
    ///
    /// Enforces RESP-5 (RFC 9110 §8.6).
    ContentLength,
    /// `VAL-7`: a size hint that the body does not keep.
    ///
    /// The hint is read on the head and again after every frame; each
    /// reading bounds the total the body may yield (the bytes already
    /// yielded plus the remaining hint). A violation is an end that misses
    /// an exact hint (an exact hint of 10 on a body that yields 5 bytes),
    /// bytes beyond an upper bound (found at the frame that passes it), a
    /// reading that contradicts an earlier one, an end before a lower bound,
    /// or a lower bound above the upper one. A body that ends with an error
    /// is not checked at its end.
    ///
    /// Enforces BODY-6.
    SizeHint,
    /// `VAL-8`: trailers that cannot be sent: on a body whose size hint was
    /// exact when the response was returned, or on a response with
    /// `Content-Length` (both mean `Content-Length` framing); a trailer
    /// field not named in the response's `Trailer` field; a field not
    /// allowed in trailers (framing, routing, request modifiers,
    /// authentication, response control and content-processing fields,
    /// RFC 9110 §6.5.1).
    ///
    /// Enforces RESP-19 and RESP-21 (RFC 9110 §6.5.1, §6.6.2).
    Trailers,
    /// `VAL-9`: a frame after the end: after a trailers frame, or when the
    /// body is polled once more after it returned `None`, an error, or
    /// reported [`is_end_stream`](http_body::Body::is_end_stream) (a
    /// well-behaved body returns `None` then).
    ///
    /// Enforces BODY-3 and BODY-4.
    FrameAfterEnd,
    /// `VAL-10`: a response whose `version` was changed: it is neither the
    /// `http` crate's default, HTTP/1.1 (what `Response::new` gives, whatever
    /// the request's version: no change), nor the request's version.
    ///
    /// Enforces RESP-22.
    Version,
}

impl Rule {
    /// Every rule, in the order of their ids.
    pub const ALL: [Rule; 10] = [
        Rule::Status,
        Rule::FieldSyntax,
        Rule::ConnectionField,
        Rule::TransferEncoding,
        Rule::NoContent,
        Rule::ContentLength,
        Rule::SizeHint,
        Rule::Trailers,
        Rule::FrameAfterEnd,
        Rule::Version,
    ];

    /// The rule's fixed id: `"VAL-1"` to `"VAL-10"`.
    pub const fn id(self) -> &'static str {
        match self {
            Rule::Status => "VAL-1",
            Rule::FieldSyntax => "VAL-2",
            Rule::ConnectionField => "VAL-3",
            Rule::TransferEncoding => "VAL-4",
            Rule::NoContent => "VAL-5",
            Rule::ContentLength => "VAL-6",
            Rule::SizeHint => "VAL-7",
            Rule::Trailers => "VAL-8",
            Rule::FrameAfterEnd => "VAL-9",
            Rule::Version => "VAL-10",
        }
    }

    /// What the rule enforces: the specification's clause ids, then the RFC
    /// sections, as in `"RESP-5; RFC 9110 §8.6"`.
    pub const fn clause(self) -> &'static str {
        match self {
            Rule::Status => "RESP-12, EXT-4; RFC 9110 §15",
            Rule::FieldSyntax => "RESP-27; RFC 9110 §5.1, §5.5",
            Rule::ConnectionField => "RESP-14; RFC 9110 §7.6.1",
            Rule::TransferEncoding => "RESP-3; RFC 9112 §6.1",
            Rule::NoContent => "RESP-26, RESP-10; RFC 9110 §9.3.2, §15.3.5, §15.4.5",
            Rule::ContentLength => "RESP-5; RFC 9110 §8.6",
            Rule::SizeHint => "BODY-6",
            Rule::Trailers => "RESP-19, RESP-21; RFC 9110 §6.5.1, §6.6.2",
            Rule::FrameAfterEnd => "BODY-3, BODY-4",
            Rule::Version => "RESP-22",
        }
    }

    /// A one-line summary of what the rule forbids.
    pub const fn summary(self) -> &'static str {
        match self {
            Rule::Status => "a status the application may not give",
            Rule::FieldSyntax => {
                "a field name that is not a token or a value with a control character"
            }
            Rule::ConnectionField => "a connection-specific field",
            Rule::TransferEncoding => "a Transfer-Encoding set by the application",
            Rule::NoContent => "content on a response that carries none",
            Rule::ContentLength => "a Content-Length that is invalid or wrong",
            Rule::SizeHint => "a size hint the body does not keep",
            Rule::Trailers => "trailers that cannot be sent",
            Rule::FrameAfterEnd => "a frame after the end of the body",
            Rule::Version => "a response version changed by the application",
        }
    }

    /// A distinct bit per rule, for "report once per response".
    pub(super) const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
