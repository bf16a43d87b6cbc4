//! [`Users`]: who may log in, read once from a Secret and asked per request.

use std::collections::HashMap;
use std::fmt;

use crate::AuthFileError;
use crate::groups::GroupsFile;
use crate::hash::Hash;
use crate::htpasswd::HtpasswdFile;
use crate::names::user_name_problem;

/// Who may log in: users with their password hashes, and their groups.
///
/// Made from a Secret (an htpasswd text, or a kubernetes.io/basic-auth
/// pair) and optionally a groups text; read-only after that. `Debug`
/// shows names and groups only, never a hash.
#[derive(Clone)]
pub struct Users {
    /// In file order.
    users: Vec<(String, Hash)>,
    index: HashMap<String, usize>,
    /// User to groups, each group's first mention first.
    groups: HashMap<String, Vec<String>>,
    /// What an unknown user's password is checked against.
    dummy: Hash,
}

impl Users {
    /// An htpasswd file's text. `source` names it in errors (e.g. "Secret default/git-users key htpasswd").
    ///
    /// Every problem is reported, each with its line: a bad name, a user
    /// named twice, a hash that is not bcrypt, `$apr1$` or `{SHA}` (plain
    /// text and crypt(3) DES are refused, with how to make a bcrypt one).
    pub fn from_htpasswd(source: &str, text: &str) -> Result<Users, Vec<AuthFileError>> {
        let file = HtpasswdFile::parse(source, text)?;
        let mut errors = Vec::new();
        let mut users = Vec::new();
        for (line, user, field) in file.numbered_entries() {
            match Hash::parse(user, field) {
                Ok(hash) => users.push((user.to_owned(), hash)),
                Err(message) => errors.push(AuthFileError::new(source, line, message)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Users::new(users))
    }

    /// One user from a kubernetes.io/basic-auth Secret (its password is stored as given; compared in constant time).
    ///
    /// Kept as its SHA-256, so comparing takes the same time whatever the
    /// lengths, and the plain password is not held.
    pub fn from_basic_auth(
        source: &str,
        username: &str,
        password: &str,
    ) -> Result<Users, AuthFileError> {
        if let Some(problem) = user_name_problem(username) {
            return Err(AuthFileError::new(
                source,
                0,
                format!("key username: {problem}"),
            ));
        }
        if password.is_empty() {
            return Err(AuthFileError::new(
                source,
                0,
                "key password is empty; set one (or use an htpasswd Secret: gatehouse-operator users add NAME)",
            ));
        }
        Ok(Users::new(vec![(
            username.to_owned(),
            Hash::plain(password.as_bytes()),
        )]))
    }

    fn new(users: Vec<(String, Hash)>) -> Users {
        let bcrypt_cost = users.iter().find_map(|(_, h)| h.bcrypt_cost());
        let dummy = Hash::dummy(bcrypt_cost, users.first().map(|(_, h)| h));
        let index = users
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), i))
            .collect();
        Users {
            users,
            index,
            groups: HashMap::new(),
            dummy,
        }
    }

    /// Adds an AuthGroupFile's groups. A group naming an unknown user is fine (Apache allows it).
    pub fn with_groups(mut self, source: &str, text: &str) -> Result<Users, Vec<AuthFileError>> {
        let file = GroupsFile::parse(source, text)?;
        for (group, members) in file.groups() {
            for member in members {
                let of = self.groups.entry(member.clone()).or_default();
                if !of.iter().any(|g| g == group) {
                    of.push(group.to_owned());
                }
            }
        }
        Ok(self)
    }

    /// Whether `password` is this user's. An unknown user still costs one bcrypt verification of a fixed dummy hash (no timing oracle for which names exist). CPU-heavy for bcrypt: the caller runs it off its async workers.
    ///
    /// The dummy is a bcrypt at the cost of the file's first bcrypt user;
    /// a file with no bcrypt user (a basic-auth Secret, an all-`$apr1$`
    /// file) checks the dummy of its first user's kind instead, so an
    /// unknown name costs what a known one does there too.
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        match self.index.get(user) {
            Some(&i) => self.users[i].1.verify(password),
            None => {
                let _ = self.dummy.verify(password);
                false
            }
        }
    }

    /// Whether `user` has a password here.
    pub fn contains(&self, user: &str) -> bool {
        self.index.contains_key(user)
    }

    /// Whether `user` is a member of `group` (known user or not, as Apache).
    pub fn in_group(&self, user: &str, group: &str) -> bool {
        self.groups_of(user).any(|g| g == group)
    }

    /// Names in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(|(name, _)| name.as_str())
    }

    /// The groups `user` is in, in the order the groups text first names them.
    /// The iterator borrows `self` only, not `user`.
    pub fn groups_of<'a>(&'a self, user: &str) -> impl Iterator<Item = &'a str> + use<'a> {
        self.groups
            .get(user)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// How many users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there is no user (an htpasswd text of comments only).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Entry<'a>(&'a Users, &'a str);
        impl fmt::Debug for Entry<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.1)?;
                let groups: Vec<&str> = self.0.groups_of(self.1).collect();
                if !groups.is_empty() {
                    write!(f, " {groups:?}")?;
                }
                Ok(())
            }
        }
        f.write_str("Users ")?;
        f.debug_list()
            .entries(self.names().map(|n| Entry(self, n)))
            .finish()
    }
}
