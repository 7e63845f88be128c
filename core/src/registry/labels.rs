//! Label values as keys: the series map's owned and borrowed keys, a fast equality for short
//! values, the quick hash of the per-thread caches, and the length limit of a value.

use std::hash::{Hash, Hasher};

use hashbrown::Equivalent;

/// Label values longer than this are truncated (and the truncation counted): a label value is a
/// name from a bounded set, never a payload.
pub(crate) const MAX_LABEL_VALUE_LEN: usize = 256;

/// Label value every key of the overflow series carries.
pub(crate) const OVERFLOW_LABEL_KEY: &str = "otel_metric_overflow";

/// Owned key of the series map.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct SeriesKey(pub(super) Box<[Box<str>]>);

/// Borrowed key used for look-ups, so finding an existing series allocates nothing.
pub(super) struct LookupKey<'a>(pub(super) &'a [&'a str]);

fn hash_values<'a, H: Hasher>(values: impl Iterator<Item = &'a str>, state: &mut H) {
    for v in values {
        state.write(v.as_bytes());
        state.write_u8(0xff);
    }
}

impl Hash for SeriesKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_values(self.0.iter().map(|s| &**s), state);
    }
}

impl Hash for LookupKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_values(self.0.iter().copied(), state);
    }
}

impl Equivalent<SeriesKey> for LookupKey<'_> {
    fn equivalent(&self, key: &SeriesKey) -> bool {
        same_labels(self.0, &key.0)
    }
}

pub(super) fn same_labels(values: &[&str], labels: &[Box<str>]) -> bool {
    values.len() == labels.len()
        && values
            .iter()
            .zip(labels)
            .all(|(a, b)| same_bytes(a.as_bytes(), b.as_bytes()))
}

/// `a == b`, without a `memcmp` call for the short strings label values usually are.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 16 {
        // Below 8 bytes `head_u64` covers every byte; up to 16 the first and the last 8 do.
        return head_u64(a) == head_u64(b) && tail_u64(a) == tail_u64(b);
    }
    a == b
}

/// The first 8 bytes; a shorter slice is packed so that every byte counts (for slices of
/// the same length, equal packings mean equal bytes).
#[inline]
fn head_u64(b: &[u8]) -> u64 {
    let n = b.len();
    if let Some(first) = b.first_chunk::<8>() {
        u64::from_le_bytes(*first)
    } else if let (Some(lo), Some(hi)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        u64::from(u32::from_le_bytes(*lo)) | (u64::from(u32::from_le_bytes(*hi)) << 32)
    } else if n > 0 {
        u64::from(b[0]) | (u64::from(b[n / 2]) << 8) | (u64::from(b[n - 1]) << 16)
    } else {
        0
    }
}

/// The last 8 bytes (`head_u64` of a shorter slice).
#[inline]
fn tail_u64(b: &[u8]) -> u64 {
    match b.last_chunk::<8>() {
        Some(last) => u64::from_le_bytes(*last),
        None => head_u64(b),
    }
}

/// A quick hash of label values for the thread-local caches, whose entries are compared in
/// full (a collision only costs a trip to the map): the length and the first, middle and last
/// 8 bytes of each value.
#[inline]
pub(super) fn local_hash(values: &[&str]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = values.len() as u64;
    for v in values {
        let b = v.as_bytes();
        let middle = head_u64(&b[(b.len() / 2).saturating_sub(4)..]);
        h = (h ^ head_u64(b)).wrapping_mul(K).rotate_left(27);
        h = (h ^ tail_u64(b) ^ (b.len() as u64))
            .wrapping_mul(K)
            .rotate_left(27);
        h = (h ^ middle).wrapping_mul(K);
    }
    h ^ (h >> 32)
}

/// `v` cut to at most [`MAX_LABEL_VALUE_LEN`] bytes, on a character boundary.
pub(super) fn truncate(v: &str) -> &str {
    if v.len() <= MAX_LABEL_VALUE_LEN {
        return v;
    }
    let mut end = MAX_LABEL_VALUE_LEN;
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    &v[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn same_bytes_is_equality(a in proptest::collection::vec(0u8..4, 0..40),
                                  b in proptest::collection::vec(0u8..4, 0..40)) {
            proptest::prop_assert_eq!(same_bytes(&a, &b), a == b);
            proptest::prop_assert!(same_bytes(&a, &a.clone()));
            if a == b {
                let (x, y) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
                proptest::prop_assert_eq!(local_hash(&[&x]), local_hash(&[&y]));
            }
        }
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "é".repeat(200);
        let t = truncate(&s);
        assert!(t.len() <= MAX_LABEL_VALUE_LEN);
        assert!(t.chars().all(|c| c == 'é'));
    }
}
