//! DepotRepos lowered to `DepotConfig`s: each option checked with the
//! field it came from, so a local-mode folder and a cluster refuse the
//! same repository with the same words.

use super::findings::Findings;
use crate::config::{DepotConfig, GroupFilter};
use crate::depot_repo::{
    DEFAULT_MAX_FILE_SIZE, DepotRepo, MAX_GROUPS, MAX_ORIGINS, parse_byte_quantity,
};
use crate::diagnostic::Diagnostic;
use crate::resource::ResourceId;

/// Names HouseDepot's URLs give a meaning at the mount's top level
/// (`/depot/all`, `/depot/check`) and Gatehouse's event log (`/depot/log`).
const RESERVED_NAMES: [&str; 3] = ["all", "check", "log"];

/// Every valid repository, by `namespace/name`; the findings of all of them.
pub(super) fn lower_all(
    repos: &[&DepotRepo],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<DepotConfig> {
    let mut lowered = Vec::new();
    for repo in repos {
        let mut findings = Findings::new(ResourceId::depot_repo(repo));
        let config = lower(repo, &mut findings);
        let rejected = findings.has_errors();
        diagnostics.extend(findings.into_diagnostics());
        if !rejected {
            lowered.push(config);
        }
    }
    lowered.sort_by(|a, b| a.id.cmp(&b.id));
    lowered
}

fn lower(repo: &DepotRepo, findings: &mut Findings) -> DepotConfig {
    let id = ResourceId::depot_repo(repo);
    let spec = &repo.spec;
    let groups = spec.groups.as_ref().and_then(|groups| {
        match (&groups.allow, &groups.deny) {
            (Some(allow), None) => Some(GroupFilter::Allow(allow.clone())),
            (None, Some(deny)) => Some(GroupFilter::Deny(deny.clone())),
            _ => {
                findings.error(
                    "spec.groups",
                    "InvalidGroups",
                    "set exactly one of `allow` or `deny`: an allow list shows only the groups it names, a deny list all but them",
                );
                None
            }
        }
    });
    let max_file_size = match spec.max_file_size.as_deref().map(parse_byte_quantity) {
        None => DEFAULT_MAX_FILE_SIZE,
        Some(Ok(size)) => size,
        Some(Err(why)) => {
            findings.error("spec.maxFileSize", "InvalidMaxFileSize", why);
            DEFAULT_MAX_FILE_SIZE
        }
    };
    let config = DepotConfig {
        id: id.key(),
        depth: spec.depth,
        groups,
        max_file_size,
        cors_write_origins: spec.cors_write_origins.clone(),
    };
    check(&config, &Fields::Spec, findings);
    config
}

/// Where a repository's options are written: a DepotRepo's `spec`, or a
/// pushed config's `depots[i]`.
pub(super) enum Fields {
    Spec,
    Config(usize),
}

impl Fields {
    fn name(&self, spec: &str, config: &str) -> String {
        match self {
            Fields::Spec => spec.to_owned(),
            Fields::Config(i) => format!("depots[{i}]{config}"),
        }
    }
}

/// What a repository must be, whether `compile` made it or a push brought it.
pub(super) fn check(config: &DepotConfig, fields: &Fields, findings: &mut Findings) {
    let (namespace, name) = config.id.split_once('/').unwrap_or(("", ""));
    // Each part is a folder under the data dir: a Kubernetes name, never
    // `.`, `..` or hidden.
    for (part, what) in [(namespace, "namespace"), (name, "name")] {
        if !is_folder_safe_name(part) {
            findings.error(
                fields.name(&format!("metadata.{what}"), ".id"),
                "InvalidName",
                format!(
                    "`{part}` is not a Kubernetes name (lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit): it names the repository's folder"
                ),
            );
        }
    }
    if RESERVED_NAMES.contains(&name) {
        findings.error(
            fields.name("metadata.name", ".id"),
            "ReservedName",
            format!(
                "`{name}` is a word of the depot's own URLs (`<mount>/{name}`): name the repository otherwise"
            ),
        );
    }
    if config.depth == Some(0) {
        findings.error(
            fields.name("spec.depth", ".depth"),
            "InvalidDepth",
            "a depth of 0 would keep no revision: set 1 or more, or leave it out to keep every revision",
        );
    }
    match &config.groups {
        Some(GroupFilter::Allow(names)) => check_groups(
            names,
            &fields.name("spec.groups.allow", ".groups.allow"),
            findings,
        ),
        Some(GroupFilter::Deny(names)) => check_groups(
            names,
            &fields.name("spec.groups.deny", ".groups.deny"),
            findings,
        ),
        None => {}
    }
    if config.max_file_size == 0 {
        findings.error(
            fields.name("spec.maxFileSize", ".maxFileSize"),
            "InvalidMaxFileSize",
            "a limit of 0 bytes refuses every check-in: set a size such as `64Mi`, or leave it out for 64Mi",
        );
    }
    if config.cors_write_origins.len() > MAX_ORIGINS {
        findings.error(
            fields.name("spec.corsWriteOrigins", ".corsWriteOrigins"),
            "TooManyOrigins",
            format!(
                "{} origins listed; at most {MAX_ORIGINS}",
                config.cors_write_origins.len()
            ),
        );
    }
    for (i, origin) in config.cors_write_origins.iter().enumerate() {
        if let Err(why) = check_origin(origin) {
            findings.error(
                fields.name(
                    &format!("spec.corsWriteOrigins[{i}]"),
                    &format!(".corsWriteOrigins[{i}]"),
                ),
                "InvalidOrigin",
                why,
            );
        }
    }
}

/// A DNS-1123 subdomain, as Kubernetes names objects: safe as a folder name.
fn is_folder_safe_name(part: &str) -> bool {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    part.len() <= 253
        && edge_ok(part.chars().next())
        && edge_ok(part.chars().last())
        && part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !part.contains("..")
}

/// Group names are folder names: one path segment, not hidden, no `~`
/// (which separates a file from its revision on disk).
fn check_groups(names: &[String], field: &str, findings: &mut Findings) {
    if names.len() > MAX_GROUPS {
        findings.error(
            field,
            "TooManyGroups",
            format!(
                "{} groups listed; at most {MAX_GROUPS}: use a prefix (`rail.` matches `railway`)",
                names.len()
            ),
        );
    }
    for (i, name) in names.iter().enumerate() {
        let why = if name.is_empty() || name == "." {
            Some("a group name is empty: write the group's folder name, or a prefix ending in `.`")
        } else if name.contains('/') {
            Some("a group is one folder deep: the name holds no `/`")
        } else if name.contains('~') {
            Some("`~` separates a file from its revision on disk: a group name holds none")
        } else if name.starts_with('.') {
            Some("hidden folders are never served: a group name does not start with `.`")
        } else {
            None
        };
        if let Some(why) = why {
            findings.error(format!("{field}[{i}]"), "InvalidGroups", why);
        }
    }
}

/// A browser origin as the `Origin` header sends it: scheme, host, port.
fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Err(
            "`*` would let every web page write to the repository: list the origins that may"
                .into(),
        );
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err(format!(
            "`{origin}` is not an origin: write it as a browser sends it, e.g. `https://admin.example.com`"
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "`{origin}`: an origin's scheme is `http` or `https`"
        ));
    }
    if rest.is_empty() || rest.contains(['/', '?', '#']) {
        return Err(format!(
            "`{origin}`: an origin is scheme, host and port only, no path or trailing `/`"
        ));
    }
    Ok(())
}
