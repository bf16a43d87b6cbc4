//! A response's `delay` and `fault`, checked and bounded.

use std::time::Duration;

use serde_yaml::Value;

use super::{Checker, describe, join};
use crate::timing::{Delay, Fault, MAX_DELAY, parse_duration};

const DURATION_FIX: &str =
    "write a duration such as `200ms`, `2s` or `1m30s` (units h, m, s, ms), at most 60s";

/// The largest slow-body chunk.
const MAX_CHUNK: u64 = 1 << 20;

impl Checker {
    pub(super) fn delay(&mut self, at: &str, value: &Value) -> Option<Delay> {
        if let Value::Mapping(_) = value {
            let fields = self.map(at, value, Some(&["min", "max"]))?;
            let bound = |this: &mut Self, key: &str| match fields.get(key) {
                Some(v) => this.duration(&join(at, key), v),
                None => {
                    this.problem(
                        &join(at, key),
                        format!("a random delay needs `{key}`"),
                        "write `delay: {min: 100ms, max: 300ms}`, or one duration for a fixed delay",
                    );
                    None
                }
            };
            let (min, max) = (bound(self, "min"), bound(self, "max"));
            let (min, max) = (min?, max?);
            if min > max {
                self.problem(
                    at,
                    format!("`min` ({min:?}) is above `max` ({max:?})"),
                    "swap them",
                );
                return None;
            }
            return Some(Delay::Uniform { min, max });
        }
        self.duration(at, value).map(Delay::Fixed)
    }

    /// A duration of at most [`MAX_DELAY`].
    fn duration(&mut self, at: &str, value: &Value) -> Option<Duration> {
        let parsed = value.as_str().and_then(parse_duration);
        match parsed {
            Some(d) if d <= MAX_DELAY => Some(d),
            Some(_) => {
                self.problem(
                    at,
                    format!("{} is longer than 60s", describe(value)),
                    "a mock waits at most 60s; for a server that never answers, use a longer client timeout against `fault: close`",
                );
                None
            }
            None => {
                self.problem(
                    at,
                    format!("{} is not a duration", describe(value)),
                    DURATION_FIX,
                );
                None
            }
        }
    }

    pub(super) fn fault(&mut self, at: &str, value: &Value) -> Option<Fault> {
        const FIX: &str = "write `fault: reset`, `fault: close` or `fault: {slowBody: {chunkBytes: 16, every: 100ms}}`";
        match value {
            Value::String(s) if s == "reset" => Some(Fault::Reset),
            Value::String(s) if s == "close" => Some(Fault::Close),
            Value::Mapping(_) => {
                let (_, slow) = self.one_of(at, value, &["slowBody"])?;
                let at = join(at, "slowBody");
                let fields = self.map(&at, slow, Some(&["chunkBytes", "every"]))?;
                let chunk = match fields.get("chunkBytes") {
                    Some(v) => match v.as_u64().filter(|n| (1..=MAX_CHUNK).contains(n)) {
                        Some(n) => Some(n as usize),
                        None => {
                            self.problem(
                                &join(&at, "chunkBytes"),
                                format!(
                                    "expected a whole number from 1 to {MAX_CHUNK}, found {}",
                                    describe(v)
                                ),
                                "the bytes sent at a time",
                            );
                            None
                        }
                    },
                    None => {
                        self.problem(
                            &join(&at, "chunkBytes"),
                            "a slow body needs `chunkBytes`",
                            FIX,
                        );
                        None
                    }
                };
                let every = match fields.get("every") {
                    Some(v) => self.duration(&join(&at, "every"), v),
                    None => {
                        self.problem(&join(&at, "every"), "a slow body needs `every`", FIX);
                        None
                    }
                };
                Some(Fault::SlowBody {
                    chunk_bytes: chunk?,
                    every: every?,
                })
            }
            other => {
                self.problem(at, format!("{} is not a fault", describe(other)), FIX);
                None
            }
        }
    }
}
