//! Names a resource the way `kubectl` does: its kind, namespace and name.
//! Diagnostics, manifests and the operator's status writer all carry this
//! one type, so a new kind is added here once and every message names it
//! the same way.

use std::fmt;

/// The kinds of resource Gatehouse reads (group `gatehouse.dev`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Route,
    DepotRepo,
    MockProvision,
}

impl Kind {
    /// Every kind, in the order messages list them.
    pub const ALL: &'static [Kind] = &[Kind::DepotRepo, Kind::MockProvision, Kind::Route];

    /// The name written in a manifest's `kind:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Route => "Route",
            Kind::DepotRepo => "DepotRepo",
            Kind::MockProvision => "MockProvision",
        }
    }

    /// The kind a manifest's `kind:` names, if Gatehouse knows it.
    pub fn parse(kind: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == kind)
    }

    /// `DepotRepo and Route`, as messages list the kinds.
    pub fn list() -> String {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        match names.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// `4 Route(s)`, or `4 Route(s) and 1 DepotRepo(s)`: how many of each
/// kind, Routes always, the others when there are some.
pub fn tally(kinds: impl IntoIterator<Item = Kind>) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for kind in kinds {
        *counts.entry(kind).or_insert(0usize) += 1;
    }
    let routes = counts.remove(&Kind::Route).unwrap_or(0);
    let mut parts = vec![format!("{routes} Route(s)")];
    parts.extend(counts.iter().map(|(kind, n)| format!("{n} {kind}(s)")));
    match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => parts.concat(),
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One resource: `Route default/demo`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl ResourceId {
    pub fn new(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ResourceId {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// A Route's id; a Route without a namespace is in `default`, as
    /// `kubectl apply` would put it.
    pub fn route(route: &crate::route::Route) -> Self {
        ResourceId::new(
            Kind::Route,
            route.metadata.namespace.as_deref().unwrap_or("default"),
            route.metadata.name.as_deref().unwrap_or(""),
        )
    }

    /// A DepotRepo's id, in `default` when it names no namespace.
    pub fn depot_repo(repo: &crate::depot_repo::DepotRepo) -> Self {
        ResourceId::new(
            Kind::DepotRepo,
            repo.metadata.namespace.as_deref().unwrap_or("default"),
            repo.metadata.name.as_deref().unwrap_or(""),
        )
    }

    /// A MockProvision's id, in `default` when it names no namespace.
    pub fn mock_provision(mock: &crate::mock_provision::MockProvision) -> Self {
        ResourceId::new(
            Kind::MockProvision,
            mock.metadata.namespace.as_deref().unwrap_or("default"),
            mock.metadata.name.as_deref().unwrap_or(""),
        )
    }

    /// The id of a resource the config keys by `namespace/name` (a
    /// `RouteConfig::id`); a key without `/` is a name in `default`.
    pub fn from_key(kind: Kind, key: &str) -> Self {
        match key.split_once('/') {
            Some((namespace, name)) => ResourceId::new(kind, namespace, name),
            None => ResourceId::new(kind, "default", key),
        }
    }

    /// `namespace/name`, as the config and the route table key a Route.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_as_kubectl_names_it() {
        let id = ResourceId::new(Kind::Route, "shop", "cart");
        assert_eq!(id.to_string(), "Route shop/cart");
        assert_eq!(id.key(), "shop/cart");
    }

    #[test]
    fn a_tally_names_routes_always_and_other_kinds_when_present() {
        assert_eq!(tally([]), "0 Route(s)");
        assert_eq!(tally([Kind::Route, Kind::Route]), "2 Route(s)");
        assert_eq!(
            tally([Kind::DepotRepo, Kind::Route]),
            "1 Route(s) and 1 DepotRepo(s)"
        );
    }

    #[test]
    fn every_kind_parses_from_its_own_name() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(Kind::parse("route"), None, "kinds are case-sensitive");
        assert_eq!(Kind::parse("HTTPRoute"), None);
    }
}
