//! The SQL lexer under [`StatementInfo`](super::StatementInfo) and
//! [`sanitize_query`](super::sanitize_query): whitespace, comments (`--`, nested `/* */`),
//! string, dollar-quoted and numeric literals, quoted identifiers, words, parameters. Linear in
//! the input, never panics, tokens always on `char` boundaries.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenKind {
    /// Unquoted word: keyword or identifier.
    Word,
    /// `"quoted identifier"` or `` `quoted identifier` ``.
    QuotedIdent,
    /// String, number, bit/hex string or dollar-quoted body.
    Literal,
    /// `$1` or `?`.
    Param,
    /// `-- …` or `/* … */`.
    Comment,
    /// Whitespace.
    Space,
    /// Any other character.
    Punct,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Token {
    /// What the token is.
    pub(super) kind: TokenKind,
    /// Byte offset of the first byte.
    pub(super) start: usize,
    /// Byte offset just past the last byte.
    pub(super) end: usize,
}

/// A linear-time SQL lexer over bytes. Tokens always start and end on `char` boundaries: every
/// delimiter is ASCII and non-ASCII bytes are only ever consumed as a whole run.
pub(super) struct Lexer<'a> {
    sql: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

const fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

const fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

impl<'a> Lexer<'a> {
    pub(super) fn new(sql: &'a str) -> Self {
        Self {
            sql,
            bytes: sql.as_bytes(),
            pos: 0,
        }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    /// End of a quoted run starting at `start` (on the opening quote): doubled quotes escape,
    /// and with `backslash` a backslash escapes the next byte. Unterminated runs end the input.
    fn quoted_end(&self, start: usize, quote: u8, backslash: bool) -> usize {
        let mut i = start + 1;
        while let Some(b) = self.at(i) {
            if backslash && b == b'\\' {
                i += 2;
            } else if b == quote {
                if self.at(i + 1) == Some(quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            } else {
                i += 1;
            }
        }
        self.bytes.len()
    }

    /// End of a `/* */` comment (nested, as PostgreSQL allows); unterminated ends the input.
    fn block_comment_end(&self, start: usize) -> usize {
        let mut depth = 0usize;
        let mut i = start;
        while i + 1 < self.bytes.len() {
            match (self.bytes[i], self.bytes[i + 1]) {
                (b'/', b'*') => {
                    depth += 1;
                    i += 2;
                }
                (b'*', b'/') => {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        return i;
                    }
                }
                _ => i += 1,
            }
        }
        self.bytes.len()
    }

    /// A dollar-quoted literal `$tag$ … $tag$` starting at `start`, or `None` if `$` does not
    /// open one (a `$1` parameter or a stray `$`).
    fn dollar_quoted_end(&self, start: usize) -> Option<usize> {
        let mut i = start + 1;
        match self.at(i) {
            Some(b'$') => {}
            Some(b) if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                while let Some(b) = self.at(i) {
                    if b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 {
                        i += 1;
                    } else {
                        break;
                    }
                }
                if self.at(i) != Some(b'$') {
                    return None;
                }
            }
            _ => return None,
        }
        let body_start = i + 1;
        // Both ends of the tag are ASCII `$`, so these slices are on char boundaries.
        let tag = self.sql.get(start..body_start)?;
        let rest = self.sql.get(body_start..)?;
        Some(
            rest.find(tag)
                .map_or(self.bytes.len(), |at| body_start + at + tag.len()),
        )
    }

    fn number_end(&self, start: usize) -> usize {
        let mut i = start;
        while let Some(b) = self.at(i) {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
                // An exponent sign: 1e-5, 2E+3.
                if (b == b'e' || b == b'E')
                    && matches!(self.at(i + 1), Some(b'+' | b'-'))
                    && self.at(i + 2).is_some_and(|d| d.is_ascii_digit())
                {
                    i += 2;
                }
                i += 1;
            } else {
                break;
            }
        }
        i
    }

    fn word_end(&self, start: usize) -> usize {
        let mut i = start;
        while self.at(i).is_some_and(is_word_byte) {
            i += 1;
        }
        i
    }

    fn token_at(&self, start: usize) -> Token {
        let b = self.bytes[start];
        let next = self.at(start + 1);
        let (kind, end) = match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                let mut i = start + 1;
                while matches!(self.at(i), Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)) {
                    i += 1;
                }
                (TokenKind::Space, i)
            }
            b'-' if next == Some(b'-') => {
                let end = self.bytes[start..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(self.bytes.len(), |p| start + p);
                (TokenKind::Comment, end)
            }
            b'/' if next == Some(b'*') => (TokenKind::Comment, self.block_comment_end(start)),
            b'\'' => (TokenKind::Literal, self.quoted_end(start, b'\'', false)),
            b'"' | b'`' => (TokenKind::QuotedIdent, self.quoted_end(start, b, false)),
            b'$' => match self.dollar_quoted_end(start) {
                Some(end) => (TokenKind::Literal, end),
                None if next.is_some_and(|d| d.is_ascii_digit()) => {
                    let mut i = start + 1;
                    while self.at(i).is_some_and(|d| d.is_ascii_digit()) {
                        i += 1;
                    }
                    (TokenKind::Param, i)
                }
                None => (TokenKind::Punct, start + 1),
            },
            b'?' => (TokenKind::Param, start + 1),
            b'0'..=b'9' => (TokenKind::Literal, self.number_end(start)),
            b'.' if next.is_some_and(|d| d.is_ascii_digit()) => {
                (TokenKind::Literal, self.number_end(start))
            }
            // E'…' (backslash escapes), B'…', X'…', N'…'.
            b'e' | b'E' if next == Some(b'\'') => {
                (TokenKind::Literal, self.quoted_end(start + 1, b'\'', true))
            }
            b'b' | b'B' | b'x' | b'X' | b'n' | b'N' if next == Some(b'\'') => {
                (TokenKind::Literal, self.quoted_end(start + 1, b'\'', false))
            }
            // U&'…' (a literal) and U&"…" (an identifier).
            b'u' | b'U' if next == Some(b'&') && self.at(start + 2) == Some(b'\'') => {
                (TokenKind::Literal, self.quoted_end(start + 2, b'\'', false))
            }
            b'u' | b'U' if next == Some(b'&') && self.at(start + 2) == Some(b'"') => (
                TokenKind::QuotedIdent,
                self.quoted_end(start + 2, b'"', false),
            ),
            b if is_word_start(b) => (TokenKind::Word, self.word_end(start)),
            _ => (TokenKind::Punct, start + 1),
        };
        Token {
            kind,
            start,
            end: end.min(self.bytes.len()).max(start + 1),
        }
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let token = self.token_at(self.pos);
        self.pos = token.end;
        Some(token)
    }
}

/// Significant tokens only (no whitespace, no comments).
pub(super) fn significant(sql: &str) -> impl Iterator<Item = Token> + '_ {
    Lexer::new(sql).filter(|t| !matches!(t.kind, TokenKind::Space | TokenKind::Comment))
}
