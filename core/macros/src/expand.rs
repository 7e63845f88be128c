//! Code generation. Everything generated refers to `::unitel::__macro_support`, so users
//! depend on `unitel` only.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Ident, ItemFn, Lit, LitStr, ReturnType, Token, Type};

use crate::args::{Args, Label, MacroKind, parse_labels, sanitize_metric_name, valid_metric_name};

/// The function an attribute is on.
pub(crate) struct Function {
    item: ItemFn,
}

impl Function {
    pub(crate) fn parse(kind: MacroKind, item: TokenStream) -> syn::Result<Self> {
        let item: ItemFn = syn::parse2(item.clone()).map_err(|_| {
            syn::Error::new(
                first_token_span(&item),
                format!(
                    "#[{}] goes on a function with a body, such as `fn process(...) {{ ... }}` or an `async fn` (free, or a method in an `impl` block)",
                    kind.name()
                ),
            )
        })?;
        if let Some(c) = &item.sig.constness {
            return Err(syn::Error::new(
                c.span(),
                format!(
                    "#[{}] cannot instrument a `const fn`: metrics are recorded at run time; remove `const`",
                    kind.name()
                ),
            ));
        }
        Ok(Self { item })
    }

    fn name(&self) -> String {
        self.item.sig.ident.to_string()
    }

    fn is_async(&self) -> bool {
        self.item.sig.asyncness.is_some()
    }

    /// The return type, `()` when none is written.
    fn return_type(&self) -> TokenStream {
        match &self.item.sig.output {
            ReturnType::Default => quote!(()),
            ReturnType::Type(_, ty) => ty.to_token_stream(),
        }
    }

    fn return_span(&self) -> Span {
        match &self.item.sig.output {
            ReturnType::Default => self.item.sig.ident.span(),
            ReturnType::Type(_, ty) => ty.span(),
        }
    }

    /// Whether the return type can be written in a `let` (no `impl Trait`).
    fn return_type_nameable(&self) -> bool {
        match &self.item.sig.output {
            ReturnType::Default => true,
            ReturnType::Type(_, ty) => !contains_impl(ty),
        }
    }

    /// `let __unitel_ret: R = <body>;`, the body run inside `span` when given.
    fn run_body(&self, span: Option<&Ident>) -> TokenStream {
        let block = &self.item.block;
        let ret = self.return_type();
        let annotation = self.return_type_nameable().then(|| quote!(: #ret));
        if self.is_async() {
            let future = if self.return_type_nameable() {
                quote!(::unitel::__macro_support::typed_future::<#ret, _>(async move #block))
            } else {
                quote!((async move #block))
            };
            let future = match span {
                Some(span) => quote!(
                    ::unitel::__macro_support::tracing::Instrument::instrument(#future, #span.clone())
                ),
                None => future,
            };
            quote!(let __unitel_ret #annotation = #future.await;)
        } else {
            let enter = span.map(|span| quote!(let __unitel_entered = #span.enter();));
            quote!(
                let __unitel_ret #annotation = {
                    #enter
                    ::unitel::__macro_support::call(move || #block)
                };
            )
        }
    }

    /// The function with `body` as its body.
    fn with_body(&self, body: TokenStream) -> TokenStream {
        let ItemFn {
            attrs, vis, sig, ..
        } = &self.item;
        quote!(
            #(#attrs)*
            #vis #sig {
                #body
            }
        )
    }

    /// The original body, as a block expression.
    fn block(&self) -> TokenStream {
        self.item.block.to_token_stream()
    }
}

fn first_token_span(item: &TokenStream) -> Span {
    item.clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span())
}

fn contains_impl(ty: &Type) -> bool {
    fn scan(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|t| match t {
            TokenTree::Ident(i) => i == "impl",
            TokenTree::Group(g) => scan(g.stream()),
            _ => false,
        })
    }
    scan(ty.to_token_stream())
}

/// `let __unitel_outcome = ...;` from `__unitel_ret`.
fn outcome() -> TokenStream {
    quote!(
        let __unitel_outcome = {
            #[allow(unused_imports)]
            use ::unitel::__macro_support::{
                OutcomeOfError as _, OutcomeOfKindedError as _, OutcomeOfValue as _,
            };
            (&&&::unitel::__macro_support::Probe(&__unitel_ret)).__unitel_outcome()
        };
    )
}

/// Label evaluation: `{ let l0 = expr0; ...; <use>(&[&*label_value(&l0), ...]) }`.
fn with_label_values(
    labels: &[Label],
    consume: impl FnOnce(TokenStream) -> TokenStream,
) -> TokenStream {
    let mut lets = Vec::new();
    let mut values = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        match &l.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => values.push(quote!(#s)),
            value => {
                let var = format_ident!("__unitel_label_{}", i);
                let span = value.span();
                lets.push(quote_spanned!(span=> let #var = #value;));
                values.push(quote_spanned!(span=> &*::unitel::__macro_support::label_value(&#var)));
            }
        }
    }
    let array = quote!(&[#(#values),*]);
    let used = consume(array);
    quote!({
        #(#lets)*
        let __unitel_labels_done = #used;
        __unitel_labels_done
    })
}

fn label_keys(labels: &[Label]) -> TokenStream {
    let keys = labels.iter().map(|l| LitStr::new(&l.key, l.key_span));
    quote!(&[#(#keys),*])
}

fn option_str(v: Option<&str>) -> TokenStream {
    match v {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    }
}

fn check_metric_name(lit: &LitStr, what: &str) -> syn::Result<String> {
    let name = lit.value();
    if !valid_metric_name(&name) {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`{name}` is not a valid metric {what}: use letters, digits and `_`, not starting with a digit or `__`, e.g. \"{}\"",
                sanitize_metric_name(&name).trim_start_matches('_')
            ),
        ));
    }
    Ok(name)
}

fn buckets_tokens(buckets: Option<Vec<f64>>) -> TokenStream {
    match buckets {
        None => quote!(::unitel::catalog::DEFAULT_BUCKETS),
        Some(b) => {
            let b = b.iter().map(|v| proc_macro2::Literal::f64_suffixed(*v));
            quote!(&[#(#b),*])
        }
    }
}

// --- #[track_metrics], #[measure_latency], #[count_calls] -------------------------------------

pub(crate) fn track_metrics(args: &Args, f: &Function) -> syn::Result<TokenStream> {
    let base = match args.string("name", "custom_operation")? {
        Some(lit) => {
            let name = check_metric_name(&lit, "name")?;
            for suffix in ["_total", "_seconds", "_duration_seconds"] {
                if let Some(stem) = name.strip_suffix(suffix) {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!(
                            "`name` is the stem of `{name}_duration_seconds`, `{name}_calls_total` and `{name}_errors_total`: drop the `{suffix}` suffix and write `name = \"{stem}\"`"
                        ),
                    ));
                }
            }
            name
        }
        None => f.name(),
    };
    let duration = args.bool("track_duration")?.unwrap_or(true);
    let calls = args.bool("track_calls")?.unwrap_or(true);
    let errors = args.bool("track_errors")?.unwrap_or(true);
    if !(duration || calls || errors) {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[track_metrics] with `track_duration`, `track_calls` and `track_errors` all false records nothing: remove the attribute or enable one",
        ));
    }
    let buckets = args.buckets()?;
    let labels = match args.list("labels", "service = \"api\", component = \"processor\"")? {
        Some(content) => {
            let reserved: &[&str] = if errors {
                &["le", "error_type", "otel_metric_overflow"]
            } else {
                &["le", "otel_metric_overflow"]
            };
            parse_labels(content, reserved)?
        }
        None => Vec::new(),
    };
    let duration_name = duration.then(|| format!("{base}_duration_seconds"));
    let calls_name = calls.then(|| format!("{base}_calls_total"));
    let errors_name = errors.then(|| format!("{base}_errors_total"));
    let site = metric_site(
        f,
        duration_name.as_deref(),
        calls_name.as_deref(),
        errors_name.as_deref(),
        &labels,
        buckets,
    );
    let start = with_label_values(&labels, |values| quote!(__UNITEL_SITE.start(#values)));
    let run = f.run_body(None);
    let outcome = outcome();
    Ok(f.with_body(quote!(
        #site
        let __unitel_call = #start;
        #run
        #outcome
        __unitel_call.finish(__unitel_outcome);
        __unitel_ret
    )))
}

fn metric_site(
    f: &Function,
    duration: Option<&str>,
    calls: Option<&str>,
    errors: Option<&str>,
    labels: &[Label],
    buckets: Option<Vec<f64>>,
) -> TokenStream {
    let function = f.name();
    let duration = option_str(duration);
    let calls = option_str(calls);
    let errors = option_str(errors);
    let keys = label_keys(labels);
    let buckets = buckets_tokens(buckets);
    quote!(
        static __UNITEL_SITE: ::unitel::__macro_support::MetricSite =
            ::unitel::__macro_support::MetricSite::new(::unitel::__macro_support::SiteDef {
                function: #function,
                duration: #duration,
                calls: #calls,
                errors: #errors,
                label_keys: #keys,
                buckets: #buckets,
            });
    )
}

pub(crate) fn measure_latency(args: &Args, f: &Function) -> syn::Result<TokenStream> {
    let metric = match args.string("metric", "api_latency_seconds")? {
        Some(lit) => {
            let name = check_metric_name(&lit, "name")?;
            for suffix in ["_total", "_bucket", "_count", "_sum"] {
                if let Some(stem) = name.strip_suffix(suffix) {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!(
                            "`{name}` is a histogram name and must not end in `{suffix}`: write `metric = \"{stem}_seconds\"`"
                        ),
                    ));
                }
            }
            name
        }
        None => format!("{}_duration_seconds", f.name()),
    };
    let labels = match args.list("labels", "endpoint = \"search\"")? {
        Some(content) => parse_labels(content, &["le", "otel_metric_overflow"])?,
        None => Vec::new(),
    };
    let site = metric_site(f, Some(&metric), None, None, &labels, args.buckets()?);
    let start = with_label_values(&labels, |values| quote!(__UNITEL_SITE.start(#values)));
    let block = f.block();
    Ok(f.with_body(quote!(
        #site
        let __unitel_call = #start;
        #block
    )))
}

pub(crate) fn count_calls(args: &Args, f: &Function) -> syn::Result<TokenStream> {
    let metric = match args.string("metric", "function_calls_total")? {
        Some(lit) => {
            let name = check_metric_name(&lit, "name")?;
            if !name.ends_with("_total") {
                return Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "`{name}` is a counter, and counter names end in `_total`: write `metric = \"{name}_total\"`"
                    ),
                ));
            }
            name
        }
        None => format!("{}_calls_total", f.name()),
    };
    let labels = match args.list("labels", "user_tier = user.tier()")? {
        Some(content) => parse_labels(content, &["otel_metric_overflow"])?,
        None => Vec::new(),
    };
    let site = metric_site(f, None, Some(&metric), None, &labels, None);
    let count = with_label_values(
        &labels,
        |values| quote!(::unitel::__macro_support::count_call(&__UNITEL_SITE, #values)),
    );
    let block = f.block();
    Ok(f.with_body(quote!(
        #site
        #count;
        #block
    )))
}

// --- #[trace_operation] ------------------------------------------------------------------------

/// One `fields(...)` entry: `name`, `name = value`, `name = %value`, `name = ?value`, `%name`.
struct Field {
    name: TokenStream,
    name_text: String,
    sigil: Option<TokenStream>,
    value: Option<Expr>,
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let sigil = |input: ParseStream<'_>| -> syn::Result<Option<TokenStream>> {
            if input.peek(Token![%]) {
                Ok(Some(input.parse::<Token![%]>()?.to_token_stream()))
            } else if input.peek(Token![?]) {
                Ok(Some(input.parse::<Token![?]>()?.to_token_stream()))
            } else {
                Ok(None)
            }
        };
        let lead = sigil(input)?;
        let parts = Punctuated::<Ident, Token![.]>::parse_separated_nonempty_with(
            input,
            syn::ext::IdentExt::parse_any,
        )?;
        let name_text = parts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(".");
        let name = parts.to_token_stream();
        if lead.is_some() || !input.peek(Token![=]) {
            return Ok(Self {
                name,
                name_text,
                sigil: lead,
                value: None,
            });
        }
        input.parse::<Token![=]>()?;
        let sigil = sigil(input)?;
        Ok(Self {
            name,
            name_text,
            sigil,
            value: Some(input.parse()?),
        })
    }
}

const RESERVED_FIELDS: &[&str] = &[
    "otel.name",
    "otel.kind",
    "otel.status_code",
    "otel.status_description",
    "error.type",
    "code.function.name",
];

pub(crate) fn trace_operation(args: &Args, f: &Function) -> syn::Result<TokenStream> {
    let name = match args.string("name", "database_query")? {
        Some(lit) => lit,
        None => LitStr::new(&f.name(), f.item.sig.ident.span()),
    };
    if name.value().is_empty() {
        return Err(syn::Error::new(
            name.span(),
            "a span needs a name: write `name = \"database_query\"`",
        ));
    }
    let kind = match args.string("kind", "client")? {
        Some(lit) => {
            let k = lit.value();
            if !["client", "server", "producer", "consumer", "internal"].contains(&k.as_str()) {
                return Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "`kind = \"{k}\"` is not a span kind: write one of \"client\", \"server\", \"producer\", \"consumer\", \"internal\""
                    ),
                ));
            }
            Some(quote!(otel.kind = #lit,))
        }
        None => None,
    };
    let mut fields = Vec::new();
    if let Some(content) = args.list("fields", "query.length = query.len()")? {
        let parsed = Punctuated::<Field, Token![,]>::parse_terminated.parse2(content.clone())?;
        let mut seen: Vec<String> = Vec::new();
        for field in parsed {
            let span = field.name.span();
            if RESERVED_FIELDS.contains(&field.name_text.as_str()) {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "`{}` is set by #[trace_operation] itself: choose another field name",
                        field.name_text
                    ),
                ));
            }
            if seen.contains(&field.name_text) {
                return Err(syn::Error::new(
                    span,
                    format!("field `{}` is given twice: keep one", field.name_text),
                ));
            }
            seen.push(field.name_text.clone());
            let Field {
                name: field_name,
                sigil,
                value,
                name_text,
            } = field;
            fields.push(match value {
                Some(value) => quote!(#field_name = #sigil #value),
                None if !name_text.contains('.') => quote!(#sigil #field_name),
                None => {
                    return Err(syn::Error::new(
                        span,
                        format!("a dotted field needs a value: write `{name_text} = value`"),
                    ));
                }
            });
        }
    }
    let function = f.name();
    let span_var = format_ident!("__unitel_span");
    let run = f.run_body(Some(&span_var));
    let outcome = outcome();
    Ok(f.with_body(quote!(
        let __unitel_span = ::unitel::__macro_support::tracing::info_span!(
            #name,
            #kind
            otel.status_code = ::unitel::__macro_support::tracing::field::Empty,
            error.type = ::unitel::__macro_support::tracing::field::Empty,
            code.function.name = #function,
            #(#fields,)*
        );
        let __unitel_span_guard = ::unitel::__macro_support::SpanGuard::new(__unitel_span.clone());
        #run
        #outcome
        let __unitel_message = {
            #[allow(unused_imports)]
            use ::unitel::__macro_support::{MessageOfDisplayError as _, MessageOfValue as _};
            (&&::unitel::__macro_support::Probe(&__unitel_ret)).__unitel_error_message()
        };
        __unitel_span_guard.finish(__unitel_outcome, __unitel_message);
        __unitel_ret
    )))
}

// --- #[track_llm_usage] ------------------------------------------------------------------------

pub(crate) fn track_llm_usage(args: &Args, f: &Function) -> syn::Result<TokenStream> {
    let provider = args.string("provider", "openai")?.ok_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "#[track_llm_usage] needs the provider (`gen_ai.provider.name`): write `provider = \"openai\"`",
        )
    })?;
    let model = args.expr("model", "\"gpt-4\"")?.ok_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "#[track_llm_usage] needs the model: write `model = \"gpt-4\"` (or an expression over the arguments, e.g. `model = request.model.as_str()`)",
        )
    })?;
    let model_is_literal = matches!(
        model,
        Expr::Lit(ExprLit {
            lit: Lit::Str(_),
            ..
        })
    );
    let operation = match args.string("operation", "chat")? {
        None => quote!(Chat),
        Some(lit) => match lit.value().as_str() {
            "chat" => quote!(Chat),
            "text_completion" => quote!(TextCompletion),
            "generate_content" => quote!(GenerateContent),
            "embeddings" => quote!(Embeddings),
            other => {
                return Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "`operation = \"{other}\"` is not a GenAI operation: write one of \"chat\", \"text_completion\", \"generate_content\", \"embeddings\""
                    ),
                ));
            }
        },
    };
    let price = llm_price(args)?;
    let ret_span = f.return_span();
    let run = f.run_body(Some(&format_ident!("__unitel_llm_span")));
    let outcome = outcome();
    let start = with_label_values(
        &[Label {
            key: "model".to_owned(),
            key_span: model.span(),
            value: model.clone(),
        }],
        |values| quote!(__UNITEL_LLM.start((#values)[0])),
    );
    let finish = quote_spanned!(ret_span=>
        __UNITEL_LLM.finish(__unitel_llm_call, &__unitel_ret, __unitel_outcome);
    );
    Ok(f.with_body(quote!(
        static __UNITEL_LLM: ::unitel::__macro_support::LlmSite =
            ::unitel::__macro_support::LlmSite::new(::unitel::__macro_support::LlmSiteDef {
                provider: #provider,
                operation: ::unitel::genai::llm::GenAiOperation::#operation,
                price: #price,
                model_is_literal: #model_is_literal,
            });
        let __unitel_llm_call = #start;
        let __unitel_llm_span = __unitel_llm_call.span().clone();
        #run
        #outcome
        #finish
        __unitel_ret
    )))
}

/// Prompt, completion and cached prices in dollars, with their spans.
type Prices = (
    Option<(f64, Span)>,
    Option<(f64, Span)>,
    Option<(f64, Span)>,
);

/// `Option<ModelPrice>` from the `cost_per_1k_*` / `cost_per_1m_*` arguments.
fn llm_price(args: &Args) -> syn::Result<TokenStream> {
    let get = |unit: &str, what: &str| args.dollars(&format!("cost_per_{unit}_{what}"));
    let per_1k = (
        get("1k", "prompt")?,
        get("1k", "completion")?,
        get("1k", "cached")?,
    );
    let per_1m = (
        get("1m", "prompt")?,
        get("1m", "completion")?,
        get("1m", "cached")?,
    );
    let any = |p: &Prices| p.0.or(p.1).or(p.2).map(|(_, s)| s);
    let (prices, unit, factor) = match (any(&per_1k), any(&per_1m)) {
        (Some(_), Some(span)) => {
            return Err(syn::Error::new(
                span,
                "prices are given both per 1k and per 1M tokens: use one unit, e.g. only `cost_per_1k_prompt` and `cost_per_1k_completion`",
            ));
        }
        (None, None) => return Ok(quote!(::core::option::Option::None)),
        (Some(_), None) => (per_1k, "1k", 1e9),
        (None, Some(_)) => (per_1m, "1m", 1e6),
    };
    let (Some(prompt), Some(completion)) = (prices.0, prices.1) else {
        let span = any(&prices).unwrap_or_else(Span::call_site);
        return Err(syn::Error::new(
            span,
            format!(
                "give both prices: write `cost_per_{unit}_prompt = ...` and `cost_per_{unit}_completion = ...` (and optionally `cost_per_{unit}_cached`)"
            ),
        ));
    };
    let micro = |(dollars, span): (f64, Span)| -> syn::Result<u64> {
        let v = (dollars * factor).round();
        if !(0.0..=1e18).contains(&v) {
            return Err(syn::Error::new(
                span,
                "a price must be a non-negative number of dollars below a million per token",
            ));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(v as u64)
    };
    let input = micro(prompt)?;
    let output = micro(completion)?;
    let cached = match prices.2 {
        Some(c) => micro(c)?,
        None => input,
    };
    Ok(quote!(::core::option::Option::Some(
        ::unitel::__macro_support::ModelPrice::new(
            ::unitel::__macro_support::Price::from_micro_dollars_per_million(#input),
            ::unitel::__macro_support::Price::from_micro_dollars_per_million(#output),
        )
        .cached_input(::unitel::__macro_support::Price::from_micro_dollars_per_million(#cached))
    )))
}

// --- #[cache_metrics], #[monitor_resource] -----------------------------------------------------

pub(crate) fn cache_metrics(args: &Args, f: &Function) -> syn::Result<TokenStream> {
    let name = args
        .string("cache_name", "embedding_cache")?
        .ok_or_else(|| {
            syn::Error::new(
                Span::call_site(),
                "#[cache_metrics] needs the cache's name (the `cache` label): write `cache_name = \"embedding_cache\"`",
            )
        })?;
    if name.value().is_empty() {
        return Err(syn::Error::new(
            name.span(),
            "the cache name is empty: write `cache_name = \"embedding_cache\"`",
        ));
    }
    let run = f.run_body(None);
    let ret_span = f.return_span();
    let record = quote_spanned!(ret_span=> __UNITEL_CACHE.record(&__unitel_ret););
    Ok(f.with_body(quote!(
        static __UNITEL_CACHE: ::unitel::__macro_support::CacheSite =
            ::unitel::__macro_support::CacheSite::new(#name);
        #run
        #record
        __unitel_ret
    )))
}

pub(crate) fn monitor_resource(args: &Args, f: &Function) -> syn::Result<TokenStream> {
    let name = match (
        args.positional(),
        args.string("name", "database_connection")?,
    ) {
        (Some(_), Some(named)) => {
            return Err(syn::Error::new(
                named.span(),
                "the resource is named twice: write either `#[monitor_resource(\"database_connection\")]` or `name = \"...\"`",
            ));
        }
        (Some(p), None) => p.clone(),
        (None, Some(n)) => n,
        (None, None) => {
            return Err(syn::Error::new(
                Span::call_site(),
                "#[monitor_resource] needs the resource's name: write `#[monitor_resource(\"database_connection\")]`",
            ));
        }
    };
    let block = f.block();
    Ok(f.with_body(quote!(
        let __unitel_resource = ::unitel::instrument::monitor_resource(#name);
        #block
    )))
}

/// Runs one macro: parse arguments and function, expand, or return the original item with the
/// errors (so the rest of the crate still type-checks).
pub(crate) fn run(
    kind: MacroKind,
    attr: TokenStream,
    item: TokenStream,
    expand: fn(&Args, &Function) -> syn::Result<TokenStream>,
) -> TokenStream {
    let result = Args::parse(kind, attr).and_then(|args| {
        let f = Function::parse(args.kind(), item.clone())?;
        expand(&args, &f)
    });
    match result {
        Ok(tokens) => tokens,
        Err(e) => {
            let error = e.to_compile_error();
            quote!(#error #item)
        }
    }
}
