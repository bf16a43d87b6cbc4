//! What a file, a group and a tag may be called, with HouseDepot's words
//! for each refusal. Checked before the disk is touched: a name that passes
//! can never leave its repository folder, collide with a revision or tag
//! link (`~`), or hide among the engine's temp files (leading `.`).

use crate::error::DepotError;
use crate::layout::{CURRENT, LATEST};

/// A file of a repository: `name` at the top, or `group/name` one folder
/// deeper. Valid by construction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileName {
    group: Option<String>,
    name: String,
}

impl FileName {
    /// `f` or `g/f`, as the path after the repository reads (decoded).
    pub fn parse(rel: &str) -> Result<Self, DepotError> {
        let mut parts = rel.split('/');
        let first = parts.next().unwrap_or("");
        match (parts.next(), parts.next()) {
            (None, _) => Self::new(None, first),
            (Some(name), None) => Self::new(Some(first), name),
            (Some(_), Some(_)) => Err(DepotError::BadRequest("URI too deep")),
        }
    }

    /// A file named `name`, in `group` when given.
    pub fn new(group: Option<&str>, name: &str) -> Result<Self, DepotError> {
        if let Some(g) = group {
            check_segment(g)?;
        }
        check_segment(name)?;
        Ok(Self {
            group: group.map(str::to_string),
            name: name.to_string(),
        })
    }

    /// The group folder, if any.
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }

    /// The file's own name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `f` or `g/f`.
    pub fn path(&self) -> String {
        match &self.group {
            Some(g) => format!("{g}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// One path segment naming a group or a file. `..` and `.` are refused
/// earlier, by the request layer, with their own words; here they fall
/// under the hidden-name rule.
pub(crate) fn check_segment(s: &str) -> Result<(), DepotError> {
    if s.is_empty() {
        return Err(DepotError::BadRequest("invalid file name"));
    }
    if s.contains('~') {
        return Err(DepotError::BadRequest("invalid character in name"));
    }
    if s.starts_with('.') || s.contains('\0') || s.contains('/') {
        return Err(DepotError::BadRequest("invalid character in name"));
    }
    if s == "all" {
        return Err(DepotError::BadRequest("invalid file name"));
    }
    Ok(())
}

/// The characters HouseDepot allows in a revision or tag.
pub(crate) fn is_tag_text(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A name a user may give a tag. As the reference, a tag starting with a
/// digit is "numeric" (it would read as a revision number).
pub(crate) fn check_tag(tag: &str) -> Result<(), DepotError> {
    if !is_tag_text(tag) {
        return Err(DepotError::BadRequest("invalid tag name"));
    }
    if tag.as_bytes()[0].is_ascii_digit() {
        return Err(DepotError::BadRequest("invalid numeric tag name"));
    }
    if tag == "all" {
        return Err(DepotError::BadRequest("cannot assign the all tag name"));
    }
    if tag == LATEST || tag == CURRENT {
        return Err(DepotError::BadRequest("cannot assign the latest tag name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(r: Result<impl std::fmt::Debug, DepotError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn file_names() {
        assert_eq!(FileName::parse("f.json").unwrap().path(), "f.json");
        let g = FileName::parse("g/f").unwrap();
        assert_eq!((g.group(), g.name()), (Some("g"), "f"));
        assert_eq!(words(FileName::parse("a/b/c")), "URI too deep");
        assert_eq!(words(FileName::parse("f~1")), "invalid character in name");
        assert_eq!(words(FileName::parse("g~x/f")), "invalid character in name");
        assert_eq!(
            words(FileName::parse(".hidden")),
            "invalid character in name"
        );
        assert_eq!(words(FileName::parse("all")), "invalid file name");
        assert_eq!(words(FileName::parse("all/f")), "invalid file name");
        assert_eq!(words(FileName::parse("")), "invalid file name");
        assert_eq!(words(FileName::parse("g/")), "invalid file name");
    }

    #[test]
    fn tag_names() {
        for ok in ["prod", "v1.2", "blue-green_2", "A"] {
            check_tag(ok).unwrap();
        }
        assert_eq!(words(check_tag("all")), "cannot assign the all tag name");
        assert_eq!(
            words(check_tag("latest")),
            "cannot assign the latest tag name"
        );
        assert_eq!(
            words(check_tag("current")),
            "cannot assign the latest tag name"
        );
        assert_eq!(words(check_tag("12")), "invalid numeric tag name");
        assert_eq!(words(check_tag("1a")), "invalid numeric tag name");
        assert_eq!(words(check_tag("a b")), "invalid tag name");
        assert_eq!(words(check_tag("a~b")), "invalid tag name");
        assert_eq!(words(check_tag("")), "invalid tag name");
    }
}
