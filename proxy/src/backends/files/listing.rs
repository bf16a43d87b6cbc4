//! The optional directory listing: a plain HTML page, names escaped.

use std::fmt::Write;
use std::path::Path;

/// Lists `dir` for the request path `shown` (which ends in `/`).
pub(super) fn render(dir: &Path, shown: &str) -> std::io::Result<String> {
    let mut entries: Vec<(String, bool)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let is_dir = e.file_type().ok()?.is_dir();
            (!name.starts_with('.')).then_some((name, is_dir))
        })
        .collect();
    entries.sort_by(|a, b| (!a.1, &a.0).cmp(&(!b.1, &b.0)));
    let title = escape(shown);
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\n<body><h1>Index of {title}</h1>\n<ul>\n"
    );
    if shown != "/" {
        html.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for (name, is_dir) in entries {
        let slash = if is_dir { "/" } else { "" };
        let _ = writeln!(
            html,
            "<li><a href=\"{}{slash}\">{}{slash}</a></li>",
            escape(&encode(&name)),
            escape(&name)
        );
    }
    html.push_str("</ul></body></html>\n");
    Ok(html)
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a file name for use as a relative link.
fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_escaped_and_encoded() {
        let dir = std::env::temp_dir().join(format!("gh-listing-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("<script>a&b.txt"), "x").unwrap();
        let html = super::render(&dir, "/files/").unwrap();
        assert!(
            html.contains("<a href=\"%3Cscript%3Ea%26b.txt\">&lt;script&gt;a&amp;b.txt</a>"),
            "{html}"
        );
        assert!(html.contains("<a href=\"sub/\">sub/</a>"));
        assert!(
            html.find("sub/").unwrap() < html.find("script").unwrap(),
            "folders first"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
