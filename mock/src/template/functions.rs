//! What a template can call besides the request: `now`, `uuid()`, random
//! values and per-provision counters. None touches a file or the network.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use minijinja::value::{Object, ObjectRepr, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use super::clock;

/// The longest `random_string`/`random_hex` a template may ask for.
pub(crate) const MAX_RANDOM_LEN: usize = 4096;
/// How many counter names a provision may have: a template that names
/// counters after the request must not grow memory without end.
pub(crate) const MAX_COUNTERS: usize = 1000;

/// `counter("name")`: per provision, from 1, one step per call.
#[derive(Debug, Default)]
pub(crate) struct Counters(Mutex<HashMap<String, u64>>);

impl Counters {
    fn next(&self, name: &str) -> Result<u64, Error> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(name) {
            *n += 1;
            return Ok(*n);
        }
        if map.len() >= MAX_COUNTERS {
            return Err(invalid(format!(
                "counter(\"{name}\"): a provision has at most {MAX_COUNTERS} counters"
            )));
        }
        map.insert(name.to_owned(), 1);
        Ok(1)
    }
}

pub(crate) fn register(env: &mut Environment<'static>, counters: Arc<Counters>) {
    env.add_function("uuid", uuid_v4);
    env.add_function("random_int", |min: i64, max: i64| {
        if min > max {
            return Err(invalid(format!(
                "random_int({min}, {max}): the minimum is above the maximum"
            )));
        }
        Ok(fastrand::i64(min..=max))
    });
    env.add_function("random_string", |n: usize| {
        random_text(
            n,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        )
    });
    env.add_function("random_hex", |n: usize| random_text(n, b"0123456789abcdef"));
    env.add_function("counter", move |name: &str| counters.next(name));
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

fn random_text(n: usize, alphabet: &[u8]) -> Result<String, Error> {
    if n > MAX_RANDOM_LEN {
        return Err(invalid(format!(
            "a random string is at most {MAX_RANDOM_LEN} characters, not {n}"
        )));
    }
    Ok((0..n)
        .map(|_| alphabet[fastrand::usize(..alphabet.len())] as char)
        .collect())
}

/// A random (version 4) UUID. A mock's ids need not be unguessable, so
/// `fastrand` is enough.
pub(crate) fn uuid_v4() -> String {
    let mut b = fastrand::u128(..).to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `now`: the time the answer was made. `{{ now }}` is RFC 3339 (UTC);
/// `{{ now("%Y-%m-%d") }}`, `now("unix")`, `now("http")` format it.
#[derive(Debug)]
pub(crate) struct Now(pub(crate) u64);

impl Object for Now {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let how = match args {
            [] => "rfc3339",
            [how] => how
                .as_str()
                .ok_or_else(|| invalid("now(format): the format is a string".to_owned()))?,
            _ => return Err(invalid("now takes at most one format".to_owned())),
        };
        clock::format(self.0, how).map(Value::from).ok_or_else(|| {
            invalid(format!(
                "now(\"{how}\"): unknown format; use {}",
                clock::FORMATS
            ))
        })
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&clock::rfc3339(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!("89ab".contains(&id[19..20]), "{id}");
        assert_ne!(id, uuid_v4());
    }

    #[test]
    fn counters_count_and_are_bounded() {
        let c = Counters::default();
        assert_eq!(c.next("a").unwrap(), 1);
        assert_eq!(c.next("a").unwrap(), 2);
        assert_eq!(c.next("b").unwrap(), 1);
        for i in 0..MAX_COUNTERS - 2 {
            c.next(&i.to_string()).unwrap();
        }
        assert!(c.next("one too many").is_err());
        assert_eq!(c.next("a").unwrap(), 3);
    }
}
