//! tower interoperability (feature `tower`): an [`Application`](crate::Application)
//! from a `tower::Service`, and a `tower::Service` from an `Application`
//! (spec chapter 23).

mod from_tower;
mod into_tower;

pub use from_tower::{from_tower, FromTower, ServiceError};
pub use into_tower::{ApplicationService, ResponseFuture};
