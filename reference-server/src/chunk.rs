//! Splits documents into passages of at most [`MAX_CHUNK_CHARS`] characters on sentence
//! boundaries (a sentence longer than that is cut on word boundaries).

/// Largest passage, in characters.
pub(crate) const MAX_CHUNK_CHARS: usize = 500;

/// Splits text into sentences, keeping their end punctuation.
pub(crate) fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        let end_of_sentence = matches!(c, '.' | '!' | '?' | '\n')
            && bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace());
        if end_of_sentence {
            let s = text[start..=i].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = i + 1;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Chunks `text`; empty text gives no chunks.
pub(crate) fn chunk(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    for sentence in sentences(text) {
        for piece in split_long(sentence) {
            if !current.is_empty()
                && current.chars().count() + 1 + piece.chars().count() > MAX_CHUNK_CHARS
            {
                chunks.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(&piece);
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

fn split_long(sentence: &str) -> Vec<String> {
    if sentence.chars().count() <= MAX_CHUNK_CHARS {
        return vec![sentence.to_owned()];
    }
    let mut out = Vec::new();
    let mut current = String::new();
    for word in sentence.split_whitespace() {
        let word: String = word.chars().take(MAX_CHUNK_CHARS).collect();
        if !current.is_empty()
            && current.chars().count() + 1 + word.chars().count() > MAX_CHUNK_CHARS
        {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_limit_and_keep_every_word() {
        let text = "First sentence. ".repeat(100) + &"x".repeat(2000) + " tail!";
        let chunks = chunk(&text);
        assert!(chunks.len() > 3);
        assert!(chunks.iter().all(|c| c.chars().count() <= MAX_CHUNK_CHARS));
        assert!(chunks.last().is_some_and(|c| c.ends_with("tail!")));
        assert!(chunk("   ").is_empty());
    }

    #[test]
    fn sentences_split_on_end_punctuation() {
        assert_eq!(sentences("A b. C d? E"), vec!["A b.", "C d?", "E"]);
        assert_eq!(sentences("v1.2 is out."), vec!["v1.2 is out."]);
    }
}
