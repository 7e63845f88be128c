//! The built-in answer generator: extractive. It picks the retrieved sentences that share the
//! most words with the question and composes them into an answer, reporting real token counts
//! (one token per word) so the LLM telemetry has true numbers.

use std::collections::HashSet;

use crate::chunk::sentences;
use crate::embed::tokens;

/// Model name reported in telemetry and API responses.
pub(crate) const MODEL: &str = "extractive-1";

/// A generated answer and its token usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Generation {
    /// The answer text.
    pub(crate) text: String,
    /// Tokens of the prompt (question and passages).
    pub(crate) prompt_tokens: u64,
    /// Tokens of the answer.
    pub(crate) completion_tokens: u64,
}

/// Counts tokens the way the built-in model does (words).
#[must_use]
pub(crate) fn count_tokens(text: &str) -> u64 {
    u64::try_from(tokens(text).count()).unwrap_or(u64::MAX)
}

/// Answers `question` from `passages`.
#[must_use]
pub(crate) fn answer(question: &str, passages: &[String]) -> Generation {
    let stop: HashSet<&str> = [
        "the", "a", "an", "of", "to", "is", "are", "and", "or", "in", "on", "for", "what", "how",
        "do", "does", "i", "it", "with", "by", "be", "can", "which", "who", "why",
    ]
    .into_iter()
    .collect();
    let q: HashSet<String> = tokens(question)
        .filter(|w| !stop.contains(w.as_str()))
        .collect();
    let mut scored: Vec<(usize, usize, &str)> = Vec::new();
    for (order, sentence) in passages.iter().flat_map(|p| sentences(p)).enumerate() {
        let words: HashSet<String> = tokens(sentence).collect();
        let overlap = words.iter().filter(|w| q.contains(*w)).count();
        if overlap > 0 {
            scored.push((overlap, order, sentence));
        }
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut chosen: Vec<(usize, &str)> = scored.iter().take(3).map(|(_, o, s)| (*o, *s)).collect();
    chosen.sort_by_key(|(o, _)| *o);
    let text = if chosen.is_empty() {
        "I could not find anything about that in the indexed documents.".to_owned()
    } else {
        chosen.iter().map(|(_, s)| *s).collect::<Vec<_>>().join(" ")
    };
    let prompt_tokens =
        count_tokens(question) + passages.iter().map(|p| count_tokens(p)).sum::<u64>();
    Generation {
        completion_tokens: count_tokens(&text),
        text,
        prompt_tokens,
    }
}

/// Splits an answer into the chunks a streaming response sends (a word and its space each).
#[must_use]
pub(crate) fn stream_pieces(text: &str) -> Vec<String> {
    let mut pieces: Vec<String> = text.split_inclusive(' ').map(str::to_owned).collect();
    if pieces.is_empty() {
        pieces.push(String::new());
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_from_the_most_relevant_sentences() {
        let passages = vec![
            "Prometheus scrapes the metrics endpoint. Grafana draws dashboards.".to_owned(),
            "Jaeger stores traces. Bread needs flour.".to_owned(),
        ];
        let g = answer("Where are traces stored?", &passages);
        assert!(g.text.contains("Jaeger stores traces."), "{}", g.text);
        assert!(!g.text.contains("flour"));
        assert_eq!(g.completion_tokens, count_tokens(&g.text));
        assert_eq!(g.prompt_tokens, 4 + 8 + 6);
    }

    #[test]
    fn no_match_says_so() {
        let g = answer("quantum chromodynamics", &["Bread needs flour.".to_owned()]);
        assert!(g.text.starts_with("I could not find"));
    }

    #[test]
    fn stream_pieces_rebuild_the_text() {
        let text = "one two three";
        assert_eq!(stream_pieces(text).concat(), text);
    }
}
