//! What htpasswd and group texts share: size bounds and their lines.

use crate::AuthFileError;

/// The largest text read: thousands of users fit; a larger one is a
/// mistake (a wrong key, a binary), and reading it would cost memory in
/// every proxy.
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// Checks the size bound, then yields each line with its number (from 1),
/// refusing lines longer than `max_line`: no line of a real file comes near,
/// and an error that quotes a line stays short.
pub(crate) fn lines<'a>(
    source: &str,
    text: &'a str,
    max_line: usize,
    errors: &mut Vec<AuthFileError>,
) -> Vec<(usize, &'a str)> {
    if text.len() > MAX_TEXT_BYTES {
        errors.push(AuthFileError::new(
            source,
            0,
            format!(
                "the text is {} bytes, over the limit of {MAX_TEXT_BYTES} (1 MiB); is this the right file?",
                text.len()
            ),
        ));
        return Vec::new();
    }
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            if line.len() > max_line {
                errors.push(AuthFileError::new(
                    source,
                    i + 1,
                    format!(
                        "the line is {} bytes long, over the limit of {max_line}; is this the right file?",
                        line.len()
                    ),
                ));
                None
            } else {
                Some((i + 1, line))
            }
        })
        .collect()
}

/// Whether a line holds no entry: blank, or a `#` comment (as Apache skips them).
pub(crate) fn is_comment_or_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// Lines joined with `\n`, ending with one, as editors write them.
pub(crate) fn join(lines: impl Iterator<Item = String>) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}
