//! URL pieces both halves build: query values.

/// Percent-encodes everything but unreserved characters and `/` (a path
/// carried in a query value stays readable).
pub fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_unreserved_characters_and_slashes_stay() {
        assert_eq!(
            super::percent_encode("/calls/a b?x=1&y"),
            "/calls/a%20b%3Fx%3D1%26y"
        );
    }
}
