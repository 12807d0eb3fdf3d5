//! Secrets a request may carry in `Authorization: Bearer ...`: a trace's delete token (given once to the page that
//! created the trace; only its SHA-256 is stored) and the operator's `--admin-token`. Both are compared in constant
//! time, on their hashes, so neither the comparison's duration nor the stored value gives a token away.

use axum::http::{HeaderMap, header};
use rand::Rng;
use sha2::{Digest, Sha256};

/// A new delete token: 20 random bytes (160 bits) in lower-case hex.
pub fn new_token() -> String {
    let bytes: [u8; 20] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the store keeps of a token.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether `token` hashes to `stored`, in time that does not depend on where they differ.
pub fn matches_hash(token: &str, stored: &[u8]) -> bool {
    let given = hash(token);
    given.len() == stored.len() && given.iter().zip(stored).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

/// Whether `given` is the configured `secret` (constant time; no secret configured matches nothing).
pub fn matches_secret(given: &str, secret: Option<&str>) -> bool {
    secret.is_some_and(|secret| !secret.is_empty() && matches_hash(given, &hash(secret)))
}

/// The token of an `Authorization: Bearer TOKEN` header, if the request has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_are_random_and_only_their_hash_matches() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 40);
        assert_ne!(a, b);
        let stored = hash(&a);
        assert_ne!(stored, a.as_bytes(), "the token itself is never stored");
        assert!(matches_hash(&a, &stored));
        assert!(!matches_hash(&b, &stored));
        assert!(!matches_hash(&a, &stored[..31]));
        assert!(!matches_hash("", &stored));
        assert!(matches_secret("s3cret", Some("s3cret")));
        assert!(
            !matches_secret("s3cret", Some("other")) && !matches_secret("", Some("")) && !matches_secret("x", None)
        );
    }

    #[test]
    fn bearer_tokens_are_read_from_authorization() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).expect("value"));
            headers
        };
        assert_eq!(bearer(&with("Bearer abc123")), Some("abc123"));
        assert_eq!(bearer(&with("bearer   abc123 ")), Some("abc123"));
        assert_eq!(bearer(&with("Basic abc123")), None);
        assert_eq!(bearer(&with("Bearer ")), None);
        assert_eq!(bearer(&with("abc123")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
