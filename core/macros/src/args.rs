//! Parsing of attribute arguments, with errors that say what to write instead.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token};

/// One argument as written.
pub(crate) enum RawArg {
    /// `key = value`
    Value { key: Ident, value: Expr },
    /// `key(...)`
    List { key: Ident, content: TokenStream },
    /// `"literal"`
    Positional(LitStr),
    /// `key`
    Flag(Ident),
}

impl RawArg {
    fn key(&self) -> Option<&Ident> {
        match self {
            Self::Value { key, .. } | Self::List { key, .. } | Self::Flag(key) => Some(key),
            Self::Positional(_) => None,
        }
    }
}

impl Parse for RawArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Ok(Self::Positional(input.parse()?));
        }
        let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            if input.peek(syn::token::Brace) {
                // A dict-style `labels={"k": "v"}`: keep it whole so the argument's own check
                // says what to write instead.
                let content;
                let brace = syn::braced!(content in input);
                let tokens: TokenStream = content.parse()?;
                let mut group = proc_macro2::Group::new(proc_macro2::Delimiter::Brace, tokens);
                group.set_span(brace.span.join());
                let value = Expr::Verbatim(group.into_token_stream());
                return Ok(Self::Value { key, value });
            }
            let value: Expr = input.parse()?;
            Ok(Self::Value { key, value })
        } else if input.peek(syn::token::Paren) {
            let content;
            syn::parenthesized!(content in input);
            Ok(Self::List {
                key,
                content: content.parse()?,
            })
        } else {
            Ok(Self::Flag(key))
        }
    }
}

/// Which macro is parsing, for messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum MacroKind {
    TrackMetrics,
    MeasureLatency,
    CountCalls,
    TraceOperation,
    TrackLlmUsage,
    CacheMetrics,
    MonitorResource,
}

impl MacroKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::TrackMetrics => "track_metrics",
            Self::MeasureLatency => "measure_latency",
            Self::CountCalls => "count_calls",
            Self::TraceOperation => "trace_operation",
            Self::TrackLlmUsage => "track_llm_usage",
            Self::CacheMetrics => "cache_metrics",
            Self::MonitorResource => "monitor_resource",
        }
    }

    /// Arguments this macro takes, as the error message lists them.
    fn accepted(self) -> &'static [&'static str] {
        match self {
            Self::TrackMetrics => &[
                "name",
                "labels",
                "track_duration",
                "track_calls",
                "track_errors",
                "buckets",
            ],
            Self::MeasureLatency => &["metric", "labels", "buckets"],
            Self::CountCalls => &["metric", "labels"],
            Self::TraceOperation => &["name", "kind", "fields"],
            Self::TrackLlmUsage => &[
                "provider",
                "model",
                "operation",
                "cost_per_1k_prompt",
                "cost_per_1k_completion",
                "cost_per_1k_cached",
                "cost_per_1m_prompt",
                "cost_per_1m_completion",
                "cost_per_1m_cached",
            ],
            Self::CacheMetrics => &["cache_name"],
            Self::MonitorResource => &["name"],
        }
    }

    fn accepted_list(self) -> String {
        self.accepted()
            .iter()
            .map(|a| match *a {
                "labels" => "`labels(...)`".to_owned(),
                "fields" => "`fields(...)`".to_owned(),
                a => format!("`{a}`"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Parsed arguments: each key at most once.
pub(crate) struct Args {
    kind: MacroKind,
    args: Vec<RawArg>,
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

impl Args {
    pub(crate) fn parse(kind: MacroKind, attr: TokenStream) -> syn::Result<Self> {
        let args = Punctuated::<RawArg, Token![,]>::parse_terminated.parse2(attr)?;
        let mut errors: Option<syn::Error> = None;
        let mut push = |e: syn::Error| match &mut errors {
            Some(all) => all.combine(e),
            None => errors = Some(e),
        };
        let mut seen: Vec<String> = Vec::new();
        for arg in &args {
            if let RawArg::Positional(lit) = arg {
                if kind != MacroKind::MonitorResource {
                    push(syn::Error::new(
                        lit.span(),
                        format!(
                            "#[{}] takes named arguments: write `name = {}`-style arguments ({})",
                            kind.name(),
                            lit.to_token_stream(),
                            kind.accepted_list()
                        ),
                    ));
                }
                continue;
            }
            let Some(key) = arg.key() else { continue };
            let name = key.to_string();
            if seen.contains(&name) {
                push(syn::Error::new(
                    key.span(),
                    format!("`{name}` is given twice: keep one"),
                ));
                continue;
            }
            seen.push(name.clone());
            if let Some(e) = unknown_argument(kind, key) {
                push(e);
            }
        }
        match errors {
            Some(e) => Err(e),
            None => Ok(Self {
                kind,
                args: args.into_iter().collect(),
            }),
        }
    }

    fn find(&self, key: &str) -> Option<&RawArg> {
        self.args.iter().find(|a| a.key().is_some_and(|k| k == key))
    }

    /// The only positional string, if any.
    pub(crate) fn positional(&self) -> Option<&LitStr> {
        self.args.iter().find_map(|a| match a {
            RawArg::Positional(l) => Some(l),
            _ => None,
        })
    }

    fn value(&self, key: &str, example: &str) -> syn::Result<Option<&Expr>> {
        match self.find(key) {
            None => Ok(None),
            Some(RawArg::Value { value, .. }) => Ok(Some(value)),
            Some(RawArg::List { key: k, .. } | RawArg::Flag(k)) => Err(syn::Error::new(
                k.span(),
                format!("`{key}` takes a value: write `{key} = {example}`"),
            )),
            Some(RawArg::Positional(_)) => Ok(None),
        }
    }

    /// `key = "string"`.
    pub(crate) fn string(&self, key: &str, example: &str) -> syn::Result<Option<LitStr>> {
        let quoted = format!("\"{example}\"");
        match self.value(key, &quoted)? {
            None => Ok(None),
            Some(Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            })) => Ok(Some(s.clone())),
            Some(other) => Err(syn::Error::new(
                other.span(),
                format!("`{key}` must be a string literal: write `{key} = {quoted}`"),
            )),
        }
    }

    /// `key = "string"` or `key = expression`.
    pub(crate) fn expr(&self, key: &str, example: &str) -> syn::Result<Option<&Expr>> {
        self.value(key, example)
    }

    /// `key = true|false`.
    pub(crate) fn bool(&self, key: &str) -> syn::Result<Option<bool>> {
        match self.value(key, "true")? {
            None => Ok(None),
            Some(Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            })) => Ok(Some(b.value)),
            Some(Expr::Path(p)) if p.path.is_ident("True") || p.path.is_ident("False") => {
                let v = p.path.is_ident("True");
                Err(syn::Error::new(
                    p.span(),
                    format!("`{key}` is a Rust bool: write `{key} = {v}`"),
                ))
            }
            Some(other) => Err(syn::Error::new(
                other.span(),
                format!("`{key}` must be `true` or `false`: write `{key} = true`"),
            )),
        }
    }

    /// `key = 0.03` (dollars): a non-negative number literal.
    pub(crate) fn dollars(&self, key: &str) -> syn::Result<Option<(f64, Span)>> {
        let number = |e: &Expr| -> Option<f64> {
            match e {
                Expr::Lit(ExprLit {
                    lit: Lit::Float(f), ..
                }) => f.base10_parse::<f64>().ok(),
                Expr::Lit(ExprLit {
                    lit: Lit::Int(i), ..
                }) => i.base10_parse::<u64>().ok().map(|v| v as f64),
                _ => None,
            }
        };
        match self.value(key, "0.03")? {
            None => Ok(None),
            Some(e) => match number(e) {
                Some(v) if v.is_finite() => Ok(Some((v, e.span()))),
                _ => Err(syn::Error::new(
                    e.span(),
                    format!(
                        "`{key}` is a price in dollars, written as a number literal: write `{key} = 0.03`"
                    ),
                )),
            },
        }
    }

    /// `key(...)` contents.
    pub(crate) fn list(&self, key: &str, example: &str) -> syn::Result<Option<&TokenStream>> {
        match self.find(key) {
            None => Ok(None),
            Some(RawArg::List { content, .. }) => Ok(Some(content)),
            Some(RawArg::Value { key: k, .. } | RawArg::Flag(k)) => Err(syn::Error::new(
                k.span(),
                format!("`{key}` takes a list in parentheses: write `{key}({example})`"),
            )),
            Some(RawArg::Positional(_)) => Ok(None),
        }
    }

    /// `buckets = [0.01, 0.1, 1.0]`.
    pub(crate) fn buckets(&self) -> syn::Result<Option<Vec<f64>>> {
        let Some(value) = self.value("buckets", "[0.01, 0.1, 1.0]")? else {
            return Ok(None);
        };
        let err = |span: Span, what: &str| {
            syn::Error::new(
                span,
                format!("{what}: write `buckets = [0.005, 0.05, 0.5, 5.0]` (seconds, increasing)"),
            )
        };
        let Expr::Array(array) = value else {
            return Err(err(value.span(), "`buckets` is a list of upper bounds"));
        };
        let mut out = Vec::new();
        for e in &array.elems {
            let v = match e {
                Expr::Lit(ExprLit {
                    lit: Lit::Float(f), ..
                }) => f.base10_parse::<f64>().ok(),
                Expr::Lit(ExprLit {
                    lit: Lit::Int(i), ..
                }) => i.base10_parse::<u64>().ok().map(|v| v as f64),
                _ => None,
            };
            match v {
                Some(v) if v.is_finite() => {
                    if out.last().is_some_and(|last| *last >= v) {
                        return Err(err(e.span(), "bucket bounds must be strictly increasing"));
                    }
                    out.push(v);
                }
                _ => return Err(err(e.span(), "a bucket bound is a number literal")),
            }
        }
        if out.is_empty() {
            return Err(err(array.span(), "give at least one bucket bound"));
        }
        Ok(Some(out))
    }

    pub(crate) fn kind(&self) -> MacroKind {
        self.kind
    }
}

/// The error for an argument `kind` does not take, saying what to write instead.
fn unknown_argument(kind: MacroKind, key: &Ident) -> Option<syn::Error> {
    let name = key.to_string();
    if kind.accepted().contains(&name.as_str()) {
        return None;
    }
    let macro_name = kind.name();
    let message = if (name.starts_with("cost_per_1k_") || name.starts_with("cost_per_1m_"))
        && kind != MacroKind::TrackLlmUsage
    {
        format!(
            "`{name}` prices LLM tokens, which only #[track_llm_usage] records: write \
             #[track_llm_usage(provider = \"openai\", model = \"gpt-4\", {name} = 0.03, ...)] instead of #[{macro_name}]"
        )
    } else if (name == "provider" || name == "model") && kind != MacroKind::TrackLlmUsage {
        format!(
            "`{name}` describes an LLM call: use #[track_llm_usage(provider = \"...\", model = \"...\")] instead of #[{macro_name}]"
        )
    } else if name == "metric_name" && kind.accepted().contains(&"metric") {
        "`metric_name` is called `metric` here: write `metric = \"...\"`".to_owned()
    } else if name == "label_extractor" {
        "label values are expressions over the arguments here: write `labels(user_tier = user.tier())`"
            .to_owned()
    } else if name == "cache" && kind == MacroKind::CacheMetrics {
        "write `cache_name = \"...\"`".to_owned()
    } else {
        let suggestion = kind
            .accepted()
            .iter()
            .map(|a| (edit_distance(&name, a), *a))
            .filter(|(d, _)| *d <= 3)
            .min();
        match suggestion {
            Some((_, s)) => format!(
                "unknown argument `{name}` for #[{macro_name}]: did you mean `{s}`? It takes {}",
                kind.accepted_list()
            ),
            None => format!(
                "unknown argument `{name}` for #[{macro_name}]: it takes {}",
                kind.accepted_list()
            ),
        }
    };
    Some(syn::Error::new(key.span(), message))
}

/// A label as written in `labels(...)`: a key and the expression of its value.
pub(crate) struct Label {
    pub(crate) key: String,
    pub(crate) key_span: Span,
    pub(crate) value: Expr,
}

struct LabelSyntax {
    key: String,
    key_span: Span,
    value: Expr,
}

impl Parse for LabelSyntax {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let (key, key_span) = if input.peek(LitStr) {
            let s: LitStr = input.parse()?;
            (s.value(), s.span())
        } else {
            let i: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            (i.to_string(), i.span())
        };
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                key_span,
                format!(
                    "a label needs a value: write `{key} = \"value\"` or `{key} = arg.method()`"
                ),
            ));
        }
        input.parse::<Token![=]>()?;
        Ok(Self {
            key,
            key_span,
            value: input.parse()?,
        })
    }
}

/// Parses `labels(key = expr, ...)`, rejecting keys Prometheus or unitel reserve.
pub(crate) fn parse_labels(content: &TokenStream, reserved: &[&str]) -> syn::Result<Vec<Label>> {
    let parsed = Punctuated::<LabelSyntax, Token![,]>::parse_terminated.parse2(content.clone())?;
    let mut out: Vec<Label> = Vec::new();
    for l in parsed {
        let valid = {
            let mut chars = l.key.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                && !l.key.starts_with("__")
        };
        if !valid {
            return Err(syn::Error::new(
                l.key_span,
                format!(
                    "`{}` is not a valid label key: use letters, digits, `_` and `.`, starting with a letter",
                    l.key
                ),
            ));
        }
        if reserved.contains(&l.key.as_str()) {
            return Err(syn::Error::new(
                l.key_span,
                format!(
                    "`{}` is a label unitel sets itself on these metrics: choose another key",
                    l.key
                ),
            ));
        }
        let sanitized = l.key.replace('.', "_");
        if out.iter().any(|o| o.key.replace('.', "_") == sanitized) {
            return Err(syn::Error::new(
                l.key_span,
                format!("label `{}` is given twice: keep one", l.key),
            ));
        }
        out.push(Label {
            key: l.key,
            key_span: l.key_span,
            value: l.value,
        });
    }
    Ok(out)
}

/// Whether `name` is a valid Prometheus metric name.
pub(crate) fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        && !name.starts_with("__")
}

/// `name` in snake case with invalid characters replaced, for suggestions.
pub(crate) fn sanitize_metric_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}
