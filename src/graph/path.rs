//! Caller data in Graph request URLs: a UPN or id as one path segment ([`segment`]) and
//! a string literal inside an OData `$filter` ([`odata_string`]). Every path built from
//! something a user typed or an answer gave goes through these, so a guest UPN
//! (`…#EXT#@…`), a `?`, a `/` or a `'` can neither end the path, start a query, add a
//! segment, nor close a filter string early.
//!
//! Graph: "the values of query parameters should be percent-encoded as per RFC 3986",
//! and a single quote inside an OData string literal is escaped by doubling it
//! (<https://learn.microsoft.com/graph/query-parameters>); a user may be addressed by
//! id or userPrincipalName in the path (<https://learn.microsoft.com/graph/api/user-get>).

/// One path segment, percent-encoded: everything but RFC 3986's unreserved characters
/// and `@` (which a UPN needs and a segment allows) becomes `%XX`, byte by byte (UTF-8).
pub fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An OData string literal: in single quotes, a `'` inside doubled. Percent-encoding the
/// whole `$filter` afterwards is the caller's part.
pub fn odata_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A `$filter` (or other query parameter) value, percent-encoded: RFC 3986's unreserved
/// characters and the OData syntax characters `'`, `(`, `)`, `/`, `:`, `@` stay as they are
/// (readable in logs), everything else becomes `%XX`. String literals inside must already
/// be quoted with [`odata_string`].
pub fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'\''
            | b'('
            | b')'
            | b'/'
            | b':'
            | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A directory object id (a GUID), or an id of the same shape (policy, audit log query):
/// the only thing taken from an answer or a file that is put into a URL path as is.
pub fn is_object_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_object_ids_go_into_urls() {
        assert!(is_object_id("8b7a6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d"));
        assert!(!is_object_id("../users"));
        assert!(!is_object_id("g1?$expand=x"));
        assert!(!is_object_id("x' or 1 eq 1"));
        assert!(!is_object_id(""));
    }

    #[test]
    fn filters_are_encoded_with_their_odata_syntax_readable() {
        assert_eq!(
            query_value("principalId eq 'a-1' and x ge 2025-12-31T02:20:00Z"),
            "principalId%20eq%20'a-1'%20and%20x%20ge%202025-12-31T02:20:00Z"
        );
        assert_eq!(
            query_value(&format!("userId eq {}", odata_string("o'b?#&x"))),
            "userId%20eq%20'o''b%3F%23%26x'"
        );
    }

    #[test]
    fn reserved_characters_of_a_upn_are_escaped_in_a_segment() {
        assert_eq!(segment("a#b@c.com"), "a%23b@c.com");
        assert_eq!(
            segment("o'brien?x/y#EXT#@contoso.onmicrosoft.com"),
            "o%27brien%3Fx%2Fy%23EXT%23@contoso.onmicrosoft.com"
        );
        assert_eq!(segment("a b%c&d+é"), "a%20b%25c%26d%2B%C3%A9");
        // Nothing a segment decodes to can contain a path or query delimiter.
        for c in ['#', '?', '/', '\'', '&', '%'] {
            assert!(!segment(&format!("x{c}y")).contains(c) || c == '%');
        }
    }

    #[test]
    fn a_quote_in_a_filter_string_is_doubled() {
        assert_eq!(
            odata_string("o'brien@contoso.com"),
            "'o''brien@contoso.com'"
        );
        assert_eq!(odata_string("plain"), "'plain'");
        assert_eq!(odata_string("''"), "''''''");
    }
}
