//! The built-in embedding model: feature hashing of word unigrams and bigrams into 384
//! dimensions, L2-normalised. Deterministic, dependency-free, and good enough to make retrieval
//! meaningful for a demonstration.

/// Dimensions of the built-in model.
pub(crate) const DIMENSIONS: usize = 384;
/// Model name reported in telemetry and API responses.
pub(crate) const MODEL: &str = "hashing-384";

/// Splits text into lowercase word tokens (letters and digits).
pub(crate) fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn add_feature(v: &mut [f32], feature: &str, weight: f32) {
    let h = fnv1a(feature.as_bytes(), 0);
    let index = usize::try_from(h % DIMENSIONS as u64).unwrap_or(0);
    let sign = if fnv1a(feature.as_bytes(), 0x9e37_79b9) & 1 == 0 {
        1.0
    } else {
        -1.0
    };
    if let Some(slot) = v.get_mut(index) {
        *slot += sign * weight;
    }
}

/// Embeds `text`; the result has unit length (or is all zeros for text without words).
#[must_use]
pub(crate) fn embed(text: &str) -> Vec<f32> {
    let mut v = vec![0.0f32; DIMENSIONS];
    let words: Vec<String> = tokens(text).collect();
    for w in &words {
        add_feature(&mut v, w, 1.0);
    }
    for pair in words.windows(2) {
        add_feature(&mut v, &format!("{} {}", pair[0], pair[1]), 0.5);
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

/// Cosine similarity of two unit vectors (their dot product).
#[must_use]
pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Serialises a vector as little-endian `f32` bytes for storage.
#[must_use]
pub(crate) fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Reads a vector stored by [`to_bytes`].
#[must_use]
pub(crate) fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_unit_length_and_deterministic() {
        let a = embed("Rust services export metrics to Prometheus");
        assert_eq!(a.len(), DIMENSIONS);
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-5);
        assert_eq!(a, embed("Rust services export metrics to Prometheus"));
        assert!(embed("").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn related_text_is_closer_than_unrelated_text() {
        let q = embed("how do I export metrics to prometheus");
        let near = embed("Services export metrics that Prometheus scrapes.");
        let far = embed("The recipe needs two eggs and flour.");
        assert!(cosine(&q, &near) > cosine(&q, &far));
    }

    #[test]
    fn bytes_round_trip() {
        let v = embed("round trip");
        assert_eq!(from_bytes(&to_bytes(&v)), v);
    }
}
