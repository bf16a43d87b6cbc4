//! Gatehouse's contracts and the pure logic between them: the custom
//! resources users write, the `ProxyConfig` a proxy serves, `compile` from
//! one to the other, and the route table that picks a rule for a request.
//! No I/O, no async: everything here is decided from its inputs alone.

pub mod certificate;
pub mod compile;
pub mod config;
pub mod depot_repo;
pub mod diagnostic;
pub mod duration;
pub mod manifest;
pub mod mock_provision;
pub mod resource;
pub mod route;
pub mod secret;
pub mod table;
pub mod x509;

pub use compile::{Compiled, KnownService, Resources, compile};
pub use config::ProxyConfig;
pub use depot_repo::{DepotRepo, DepotRepoSpec};
pub use diagnostic::{Diagnostic, Severity};
pub use mock_provision::{MockProvision, MockProvisionSpec};
pub use resource::{Kind, ResourceId};
pub use route::{Route, RouteSpec};
