//! Reads the Prometheus text exposition format the admin `/metrics` serves.

use std::collections::BTreeMap;

/// One sample line: `name{labels} value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Every sample of one scrape.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    pub samples: Vec<Sample>,
    pub text: String,
}

impl Metrics {
    /// Parses a scrape; comment lines and lines it cannot read are skipped.
    pub fn parse(text: &str) -> Metrics {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(parse_line)
            .collect();
        Metrics {
            samples,
            text: text.to_owned(),
        }
    }

    /// The samples of `name` whose labels include every `(label, value)` given.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The sum over [`Metrics::matching`]; 0 when no series matches.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }

    /// The one series of `name` with these labels, if it is exported.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Sample> = self.matching(name, labels).collect();
        match found.as_slice() {
            [] => None,
            [one] => Some(one.value),
            many => Some(many.iter().map(|s| s.value).sum()),
        }
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(mut body) = rest.strip_prefix('{') {
        loop {
            body = body.trim_start_matches([',', ' ']);
            if let Some(after) = body.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = body.find('=')?;
            let key = body[..eq].trim().to_owned();
            let quoted = body[eq + 1..].strip_prefix('"')?;
            let mut chars = quoted.char_indices();
            let mut value = String::new();
            let consumed = loop {
                let (i, c) = chars.next()?;
                match c {
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        escaped => value.push(escaped),
                    },
                    '"' => break i + 1,
                    c => value.push(c),
                }
            };
            labels.insert(key, value);
            body = &quoted[consumed..];
        }
    }
    let value = match rest.split_whitespace().next()? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_labels_and_values() {
        let m = Metrics::parse(
            "# HELP x y\n# TYPE x counter\nx{a=\"1\",b=\"q\\\"uote\"} 3\nplain 4.5\nh_bucket{le=\"+Inf\"} 7\n",
        );
        assert_eq!(m.get("x", &[("a", "1")]), Some(3.0));
        assert_eq!(m.get("x", &[("b", "q\"uote")]), Some(3.0));
        assert_eq!(m.get("plain", &[]), Some(4.5));
        assert_eq!(m.get("h_bucket", &[("le", "+Inf")]), Some(7.0));
        assert_eq!(m.get("x", &[("a", "2")]), None);
        assert_eq!(m.sum("x", &[]), 3.0);
    }
}
