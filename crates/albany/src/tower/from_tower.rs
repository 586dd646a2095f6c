//! A `tower::Service` served as an `Application`.
