//! Numbers written as text without `fmt`, on paths that run per request.

/// `n` in decimal.
pub(crate) fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
}

/// `nanos` as seconds with three decimals, rounded: `0.002`, `12.345`.
pub(crate) fn push_seconds(out: &mut Vec<u8>, nanos: u128) {
    let millis = u64::try_from((nanos + 500_000) / 1_000_000).unwrap_or(u64::MAX);
    out.extend_from_slice(itoa(millis / 1000, &mut [0; 20]));
    let fraction = millis % 1000;
    out.extend_from_slice(&[
        b'.',
        b'0' + (fraction / 100) as u8,
        b'0' + (fraction / 10 % 10) as u8,
        b'0' + (fraction % 10) as u8,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_integers_and_seconds() {
        for n in [0, 7, 10, 1024, u64::MAX] {
            assert_eq!(itoa(n, &mut [0; 20]), n.to_string().as_bytes());
        }
        for (nanos, text) in [
            (0, "0.000"),
            (499_999, "0.000"),
            (500_000, "0.001"),
            (2_345_678, "0.002"),
            (12_345_678_901, "12.346"),
        ] {
            let mut out = Vec::new();
            push_seconds(&mut out, nanos);
            assert_eq!(out, text.as_bytes());
        }
    }
}
