//! The few facts Gatehouse reads from an X.509 certificate: when it is
//! valid, whom it names (its subject, as RFC 4514 text, the way nginx's
//! `$ssl_client_s_dn` and OpenSSL's `-nameopt RFC2253` print it), the DNS
//! names it covers, and its public key. A small DER reader instead of a
//! general X.509 crate: these four fields sit at fixed places in
//! `TBSCertificate` (RFC 5280 §4.1), and the chain itself is verified by
//! rustls, never here.

use std::fmt::Write as _;

/// What a certificate says of itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateFacts {
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// RFC 4514: the last RDN first, `CN=client,O=Example`.
    pub subject: String,
    /// `subjectAltName` DNS names, as written (`*.example.com` included).
    pub dns_names: Vec<String>,
    /// The DER of its `SubjectPublicKeyInfo`.
    pub public_key: Vec<u8>,
}

/// Reads a DER certificate; the error says which part could not be read.
pub fn parse(der: &[u8]) -> Result<CertificateFacts, String> {
    let mut outer = Reader::new(der);
    let mut certificate = outer.inner(SEQUENCE, "the certificate")?;
    let mut tbs = certificate.inner(SEQUENCE, "tbsCertificate")?;
    if tbs.peek() == Some(VERSION) {
        tbs.skip("version")?;
    }
    tbs.expect(INTEGER, "serialNumber")?;
    tbs.expect(SEQUENCE, "signature")?;
    tbs.expect(SEQUENCE, "issuer")?;
    let mut validity = tbs.inner(SEQUENCE, "validity")?;
    let not_before = validity.time("notBefore")?;
    let not_after = validity.time("notAfter")?;
    let subject = rfc4514(tbs.expect(SEQUENCE, "subject")?)?;
    let public_key = tbs.whole(SEQUENCE, "subjectPublicKeyInfo")?.to_vec();
    let mut dns_names = Vec::new();
    while let Some(tag) = tbs.peek() {
        if tag != EXTENSIONS {
            tbs.skip("an optional field")?;
            continue;
        }
        let mut wrapper = tbs.inner(EXTENSIONS, "extensions")?;
        let mut extensions = wrapper.inner(SEQUENCE, "extensions")?;
        while !extensions.is_empty() {
            let mut extension = extensions.inner(SEQUENCE, "an extension")?;
            let oid = extension.expect(OID, "an extension's id")?;
            if extension.peek() == Some(BOOLEAN) {
                extension.skip("critical")?;
            }
            let value = extension.expect(OCTET_STRING, "an extension's value")?;
            if oid == SUBJECT_ALT_NAME {
                dns_names = alt_dns_names(value)?;
            }
        }
    }
    Ok(CertificateFacts {
        not_before,
        not_after,
        subject,
        dns_names,
        public_key,
    })
}

const BOOLEAN: u8 = 0x01;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
/// `[0] EXPLICIT Version`.
const VERSION: u8 = 0xa0;
/// `[3] EXPLICIT Extensions`.
const EXTENSIONS: u8 = 0xa3;
/// `dNSName [2] IA5String` in a `GeneralName`.
const DNS_NAME: u8 = 0x82;
/// 2.5.29.17
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// The `subjectAltName` extension's DNS names.
fn alt_dns_names(value: &[u8]) -> Result<Vec<String>, String> {
    let mut names = Reader::new(value).inner(SEQUENCE, "subjectAltName")?;
    let mut found = Vec::new();
    while let Some(tag) = names.peek() {
        let (_, bytes) = names.any("a subjectAltName entry")?;
        if tag == DNS_NAME {
            found.push(String::from_utf8_lossy(bytes).into_owned());
        }
    }
    Ok(found)
}

/// A `Name` as RFC 4514 writes it: RDNs last first, joined by `,`; the
/// attributes of one RDN joined by `+`.
fn rfc4514(name: &[u8]) -> Result<String, String> {
    let mut rdns = Vec::new();
    let mut reader = Reader::new(name);
    while !reader.is_empty() {
        let mut set = reader.inner(SET, "a relative distinguished name")?;
        let mut attributes = Vec::new();
        while !set.is_empty() {
            let mut pair = set.inner(SEQUENCE, "an attribute")?;
            let oid = pair.expect(OID, "an attribute's type")?;
            let (tag, value) = pair.any("an attribute's value")?;
            attributes.push(attribute(oid, tag, value));
        }
        rdns.push(attributes.join("+"));
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

fn attribute(oid: &[u8], tag: u8, value: &[u8]) -> String {
    let short = match oid {
        [0x55, 0x04, 0x03] => Some("CN"),
        [0x55, 0x04, 0x06] => Some("C"),
        [0x55, 0x04, 0x07] => Some("L"),
        [0x55, 0x04, 0x08] => Some("ST"),
        [0x55, 0x04, 0x09] => Some("STREET"),
        [0x55, 0x04, 0x0a] => Some("O"),
        [0x55, 0x04, 0x0b] => Some("OU"),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => Some("DC"),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => Some("UID"),
        _ => None,
    };
    let text = match tag {
        // UTF8String, PrintableString, IA5String, TeletexString (read as Latin-1 would garble less than failing).
        0x0c | 0x13 | 0x16 | 0x14 => Some(String::from_utf8_lossy(value).into_owned()),
        // BMPString: UTF-16BE.
        0x1e => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    };
    match (short, text) {
        (Some(short), Some(text)) => format!("{short}={}", escape(&text)),
        // RFC 4514 §2.4: an unknown type by its dotted OID, a value of
        // another kind as `#` and the hex of its DER.
        _ => {
            let mut out = format!("{}=#{tag:02x}", dotted(oid));
            let _ = write!(out, "{:02x}", value.len());
            for byte in value {
                let _ = write!(out, "{byte:02x}");
            }
            out
        }
    }
}

/// RFC 4514 §2.4: `,+"\<>;` escaped anywhere, `#` and a space at the
/// start, a space at the end; control characters as `\XX`.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => {
                out.push('\\');
                out.push(c);
            }
            '#' | ' ' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == last => out.push_str("\\ "),
            c if c.is_control() => {
                let mut bytes = [0; 4];
                for byte in c.encode_utf8(&mut bytes).bytes() {
                    let _ = write!(out, "\\{byte:02X}");
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn dotted(oid: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for (i, byte) in oid.iter().enumerate() {
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if parts.is_empty() {
                let first = if i == 0 { value.min(80) / 40 } else { 2 };
                parts.push(first);
                parts.push(value - first * 40);
            } else {
                parts.push(value);
            }
            value = 0;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// A cursor over DER: tag, length, value, one at a time.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element: its tag, its value, and the whole of it.
    fn next(&mut self, what: &str) -> Result<(u8, &'a [u8], &'a [u8]), String> {
        let bad = || format!("{what} is not valid DER");
        let (&tag, after) = self.rest.split_first().ok_or_else(bad)?;
        let (&first, after) = after.split_first().ok_or_else(bad)?;
        let (len, after) = if first < 0x80 {
            (usize::from(first), after)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || after.len() < count {
                return Err(bad());
            }
            let len = after[..count]
                .iter()
                .fold(0usize, |len, byte| (len << 8) | usize::from(*byte));
            (len, &after[count..])
        };
        if after.len() < len {
            return Err(bad());
        }
        let header = self.rest.len() - after.len();
        let whole = &self.rest[..header + len];
        let value = &after[..len];
        self.rest = &after[len..];
        Ok((tag, value, whole))
    }

    fn any(&mut self, what: &str) -> Result<(u8, &'a [u8]), String> {
        self.next(what).map(|(tag, value, _)| (tag, value))
    }

    fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], String> {
        match self.next(what)? {
            (found, value, _) if found == tag => Ok(value),
            (found, ..) => Err(format!(
                "{what}: expected DER tag {tag:#04x}, found {found:#04x}"
            )),
        }
    }

    fn whole(&mut self, tag: u8, what: &str) -> Result<&'a [u8], String> {
        match self.next(what)? {
            (found, _, whole) if found == tag => Ok(whole),
            (found, ..) => Err(format!(
                "{what}: expected DER tag {tag:#04x}, found {found:#04x}"
            )),
        }
    }

    fn inner(&mut self, tag: u8, what: &str) -> Result<Reader<'a>, String> {
        self.expect(tag, what).map(Reader::new)
    }

    fn skip(&mut self, what: &str) -> Result<(), String> {
        self.next(what).map(drop)
    }

    fn time(&mut self, what: &str) -> Result<i64, String> {
        let (tag, value) = self.any(what)?;
        let text = std::str::from_utf8(value).map_err(|_| format!("{what} is not ASCII"))?;
        let bad = || format!("{what} `{text}` is not a time X.509 allows");
        let (year, rest) = match tag {
            // RFC 5280 §4.1.2.5.1: YYMMDDHHMMSSZ, 50..99 are 19xx.
            UTC_TIME if text.len() == 13 => {
                let yy: i64 = text[..2].parse().map_err(|_| bad())?;
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
            }
            GENERALIZED_TIME if text.len() == 15 => {
                (text[..4].parse().map_err(|_| bad())?, &text[4..])
            }
            _ => return Err(bad()),
        };
        if !rest.ends_with('Z') || !rest[..10].bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let field = |at: usize| -> i64 { rest[at..at + 2].parse().unwrap_or(0) };
        let (month, day, hour, minute, second) = (field(0), field(2), field(4), field(6), field(8));
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return Err(bad());
        }
        Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 12, 4), 20_791);
    }

    #[test]
    fn values_are_escaped_as_rfc_4514_says() {
        assert_eq!(escape("Acme, Inc."), "Acme\\, Inc.");
        assert_eq!(escape("#1 "), "\\#1\\ ");
        assert_eq!(escape("a+b=c"), "a\\+b=c");
    }

    #[test]
    fn an_unknown_attribute_is_its_dotted_oid_and_hex() {
        // 1.2.840.113549.1.9.1 (emailAddress), an IA5String.
        let oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
        assert_eq!(
            attribute(&oid, 0x16, b"a@b"),
            "1.2.840.113549.1.9.1=#1603614062"
        );
    }

    #[test]
    fn truncated_der_is_refused_with_what_was_read() {
        let err = parse(&[0x30, 0x82, 0x01]).unwrap_err();
        assert!(err.contains("the certificate is not valid DER"), "{err}");
        assert!(parse(&[]).is_err());
    }
}
