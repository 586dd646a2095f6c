//! An `Application` served as a `tower::Service`.
