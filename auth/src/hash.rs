//! The password hashes Gatehouse accepts, and their verification.
//!
//! Apache's `htpasswd` writes five kinds; three are accepted:
//! - bcrypt (`$2y$`, also `$2b$` and `$2a$`): slow on purpose, the one to use;
//! - APR1-MD5 (`$apr1$`, Apache's MD5-crypt): `htpasswd`'s old default, so
//!   files in the wild hold it;
//! - `{SHA}` (unsalted SHA-1): weak, but nginx and Apache both read it, and
//!   refusing it would strand existing files.
//!
//! Refused, each with the fix: crypt(3) DES (reads only 8 characters of a
//! password, brute-forced in hours) and plain text (anyone who can read the
//! Secret can log in). Every comparison of digests is constant-time.

use base64::Engine as _;
use md5::{Digest as _, Md5};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// The costs bcrypt accepts (`--cost`): 2^cost rounds.
pub const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=31;

/// A password hash, parsed once when the file is read.
#[derive(Clone)]
pub(crate) enum Hash {
    /// The whole `$2y$…` string, as the `bcrypt` crate verifies it.
    Bcrypt(String),
    /// `$apr1$salt$digest`: the salt and the 22-character digest.
    Apr1 { salt: String, digest: String },
    /// `{SHA}`: the 20-byte SHA-1 of the password.
    Sha1([u8; 20]),
    /// A kubernetes.io/basic-auth Secret's password, kept as its SHA-256
    /// so that comparing takes the same time whatever the lengths.
    Plain([u8; 32]),
}

/// The tail (salt and digest) of a real bcrypt hash, used by the dummy an
/// unknown user is checked against: any password fails it.
const DUMMY_BCRYPT_TAIL: &str = "Fsr..JEt90OuCc9tK9DEI.y37F1ymSOLueEiaZJT9SrVLe0QEwhtm";

impl Hash {
    /// Reads one htpasswd hash field; the error says why it is refused and
    /// how to make one that is accepted.
    pub(crate) fn parse(user: &str, field: &str) -> Result<Hash, String> {
        let fix = format!("make a bcrypt one: gatehouse-operator users add {user}");
        let refuse = |what: &str| format!("user {user:?}: {what}; {fix}");
        if let Some(rest) = ["$2y$", "$2b$", "$2a$"]
            .iter()
            .find_map(|p| field.strip_prefix(p))
        {
            return parse_bcrypt(field, rest).map_err(|e| refuse(&e));
        }
        if field.starts_with("$2x$") {
            return Err(refuse(
                "a $2x$ bcrypt hash (made by an old implementation with a known bug) is not accepted",
            ));
        }
        if let Some(rest) = field.strip_prefix("$apr1$") {
            return parse_apr1(rest).map_err(|e| refuse(&e));
        }
        if let Some(rest) = field.strip_prefix("{SHA}") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()
                .and_then(|b| <[u8; 20]>::try_from(b).ok())
                .ok_or_else(|| {
                    refuse("the {SHA} hash is not the base64 of a 20-byte SHA-1 digest")
                })?;
            return Ok(Hash::Sha1(bytes));
        }
        if field.is_empty() {
            return Err(refuse("the line has no password hash after ':'"));
        }
        if let Some(id) = field
            .strip_prefix('$')
            .and_then(|r| r.split_once('$'))
            .map(|(id, _)| id)
            .filter(|id| !id.is_empty() && id.len() <= 8)
        {
            return Err(refuse(&format!(
                "a ${id}$ hash is not accepted (Gatehouse reads bcrypt, $apr1$ and {{SHA}})"
            )));
        }
        if field.len() == 13 && field.bytes().all(is_crypt64) {
            return Err(refuse(
                "a crypt(3) DES hash is not accepted (8-character limit, broken)",
            ));
        }
        Err(refuse(
            "a plain-text password is not accepted (anyone who reads the Secret could log in)",
        ))
    }

    /// A basic-auth Secret's password.
    pub(crate) fn plain(password: &[u8]) -> Hash {
        Hash::Plain(Sha256::digest(password).into())
    }

    /// The hash an unknown user is checked against, so that a wrong name
    /// costs what a wrong password does: a bcrypt of `cost` when the file
    /// has bcrypt users, else the same kind of work as `like`.
    pub(crate) fn dummy(bcrypt_cost: Option<u32>, like: Option<&Hash>) -> Hash {
        match (bcrypt_cost, like) {
            (Some(cost), _) => Hash::Bcrypt(format!("$2y${cost:02}${DUMMY_BCRYPT_TAIL}")),
            (None, Some(Hash::Apr1 { .. })) => Hash::Apr1 {
                salt: "gatehous".to_owned(),
                digest: "..........unknown.user".to_owned(),
            },
            (None, Some(Hash::Sha1(_))) => Hash::Sha1([0; 20]),
            (None, Some(Hash::Plain(_))) => Hash::Plain([0; 32]),
            // An empty set of users: bcrypt at Apache's default cost.
            (None, _) => Hash::Bcrypt(format!("$2y$05${DUMMY_BCRYPT_TAIL}")),
        }
    }

    /// The bcrypt cost, for a bcrypt hash.
    pub(crate) fn bcrypt_cost(&self) -> Option<u32> {
        match self {
            Hash::Bcrypt(s) => s[4..6].parse().ok(),
            _ => None,
        }
    }

    /// Whether `password` is the one this hash was made from.
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        match self {
            // Truncating at 72 bytes, as Apache's bcrypt does.
            Hash::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            Hash::Apr1 { salt, digest } => apr1_digest(password, salt.as_bytes())
                .as_bytes()
                .ct_eq(digest.as_bytes())
                .into(),
            Hash::Sha1(digest) => {
                let got: [u8; 20] = Sha1::digest(password).into();
                got.ct_eq(digest).into()
            }
            Hash::Plain(digest) => {
                let got: [u8; 32] = Sha256::digest(password).into();
                got.ct_eq(digest).into()
            }
        }
    }
}

fn is_crypt64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'/'
}

fn parse_bcrypt(field: &str, rest: &str) -> Result<Hash, String> {
    let malformed = || {
        "the bcrypt hash is malformed (expected $2y$NN$ and 53 characters of [./A-Za-z0-9])"
            .to_owned()
    };
    let (cost, tail) = rest.split_once('$').ok_or_else(malformed)?;
    if cost.len() != 2 || tail.len() != 53 || !tail.bytes().all(is_crypt64) {
        return Err(malformed());
    }
    let cost: u32 = cost.parse().map_err(|_| malformed())?;
    if !BCRYPT_COSTS.contains(&cost) {
        return Err(format!(
            "the bcrypt cost {cost} is outside {}..={}",
            BCRYPT_COSTS.start(),
            BCRYPT_COSTS.end()
        ));
    }
    Ok(Hash::Bcrypt(field.to_owned()))
}

fn parse_apr1(rest: &str) -> Result<Hash, String> {
    let malformed = || {
        "the $apr1$ hash is malformed (expected $apr1$, a salt of up to 8 characters, $ and 22 characters of [./A-Za-z0-9])".to_owned()
    };
    let (salt, digest) = rest.split_once('$').ok_or_else(malformed)?;
    if salt.is_empty()
        || salt.len() > 8
        || !salt.bytes().all(is_crypt64)
        || digest.len() != 22
        || !digest.bytes().all(is_crypt64)
    {
        return Err(malformed());
    }
    Ok(Hash::Apr1 {
        salt: salt.to_owned(),
        digest: digest.to_owned(),
    })
}

/// Apache's APR1 (MD5-crypt with the `$apr1$` magic, as in APR's
/// `apr_md5_encode`): the 22-character digest of `password` with `salt`.
fn apr1_digest(password: &[u8], salt: &[u8]) -> String {
    const MAGIC: &[u8] = b"$apr1$";
    let mut ctx = Md5::new();
    ctx.update(password);
    ctx.update(MAGIC);
    ctx.update(salt);

    let alt: [u8; 16] = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize()
        .into();
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alt[..n]);
        left -= n;
    }
    let mut i = password.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        i >>= 1;
    }
    let mut fin: [u8; 16] = ctx.finalize().into();

    // 1000 rounds, to slow down a search (by 1990s standards).
    for round in 0..1000 {
        let mut c = Md5::new();
        if round & 1 == 1 {
            c.update(password);
        } else {
            c.update(fin);
        }
        if round % 3 != 0 {
            c.update(salt);
        }
        if round % 7 != 0 {
            c.update(password);
        }
        if round & 1 == 1 {
            c.update(fin);
        } else {
            c.update(password);
        }
        fin = c.finalize().into();
    }

    const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(22);
    let mut to64 = |mut v: u32, n: usize| {
        for _ in 0..n {
            out.push(ITOA64[(v & 0x3f) as usize] as char);
            v >>= 6;
        }
    };
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        to64(
            (u32::from(fin[a]) << 16) | (u32::from(fin[b]) << 8) | u32::from(fin[c]),
            4,
        );
    }
    to64(u32::from(fin[11]), 2);
    out
}

/// A bcrypt hash of `password` with a fresh random salt, written `$2y$` as
/// Apache's `htpasswd -B` writes it. bcrypt reads only the first 72 bytes
/// of a password (as Apache's does); callers that take a password from a
/// person should refuse a longer one rather than let the rest be ignored.
///
/// # Panics
/// When `cost` is outside [`BCRYPT_COSTS`], or the OS has no randomness
/// to give (nothing safe can be done then).
pub fn hash_bcrypt(password: &[u8], cost: u32) -> String {
    assert!(
        BCRYPT_COSTS.contains(&cost),
        "bcrypt cost {cost} is outside 4..=31"
    );
    bcrypt::hash_with_result(password, cost)
        .expect("the OS gives random bytes for a salt")
        .format_for_version(bcrypt::Version::TwoY)
}

/// A strong password for `--generate`: 24 characters from the URL-safe
/// base64 alphabet (144 bits) from the OS's CSPRNG; safe in a URL, a shell
/// word and a YAML scalar.
///
/// # Panics
/// When the OS has no randomness to give.
pub fn generate_password() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the OS gives random bytes");
    // 64 divides 256: masking keeps every character equally likely.
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 63)] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apr1_matches_the_known_vector() {
        // From `htpasswd -nbm kim x`.
        assert_eq!(apr1_digest(b"x", b"uwANIbaP"), "j9SMhSPQtt8Mr0gHUOS3r.");
    }

    #[test]
    fn hash_bcrypt_writes_2y_and_verifies() {
        let hash = hash_bcrypt(b"s3cret", 4);
        assert!(hash.starts_with("$2y$04$"), "{hash}");
        let parsed = Hash::parse("u", &hash).unwrap();
        assert!(parsed.verify(b"s3cret"));
        assert!(!parsed.verify(b"s3cret "));
        assert_eq!(parsed.bcrypt_cost(), Some(4));
    }

    #[test]
    #[should_panic(expected = "outside 4..=31")]
    fn hash_bcrypt_refuses_a_cost_out_of_range() {
        hash_bcrypt(b"x", 3);
    }

    #[test]
    fn generated_passwords_are_24_url_safe_characters_and_differ() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.len(), 24);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn dummies_refuse_every_password() {
        for dummy in [
            Hash::dummy(Some(4), None),
            Hash::dummy(None, Some(&Hash::plain(b"x"))),
            Hash::dummy(None, Some(&Hash::Sha1([1; 20]))),
            Hash::dummy(
                None,
                Some(&Hash::Apr1 {
                    salt: "s".into(),
                    digest: "d".into(),
                }),
            ),
        ] {
            assert!(!dummy.verify(b""));
            assert!(!dummy.verify(b"x"));
        }
    }
}
