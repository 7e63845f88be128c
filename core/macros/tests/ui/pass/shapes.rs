//! Function shapes the macros accept: methods, borrows out of `&mut self`, generics,
//! `impl Trait`, `?` with boxed errors, trait impls, pattern arguments, stacked macros.

use std::sync::Arc;

use unitel::genai::cache::Lookup;
use unitel::genai::llm::LlmUsage;
use unitel::{
    cache_metrics, count_calls, measure_latency, monitor_resource, trace_operation,
    track_llm_usage, track_metrics,
};

struct Store {
    items: Vec<u32>,
}

impl Store {
    #[track_metrics]
    fn first_mut(&mut self) -> Option<&mut u32> {
        self.items.first_mut()
    }

    #[trace_operation(fields(len = self.items.len()))]
    fn iter(&self) -> impl Iterator<Item = &u32> + '_ {
        self.items.iter()
    }

    #[measure_latency]
    async fn push(&mut self, v: u32) -> &mut Vec<u32> {
        self.items.push(v);
        &mut self.items
    }

    #[count_calls]
    fn shared(self: Arc<Self>) -> usize {
        self.items.len()
    }
}

trait Service {
    fn handle(&self, request: &str) -> Result<usize, Box<dyn std::error::Error>>;
    async fn handle_async(&self, request: &str) -> usize;
}

impl Service for Store {
    #[track_metrics(name = "service_handle", labels(kind = "sync"))]
    fn handle(&self, request: &str) -> Result<usize, Box<dyn std::error::Error>> {
        let n: usize = request.parse()?;
        if n > 100 {
            return Err("too big".into());
        }
        Ok(n + self.items.len())
    }

    #[track_metrics(name = "service_handle_async")]
    #[trace_operation(name = "handle_async")]
    async fn handle_async(&self, request: &str) -> usize {
        request.len()
    }
}

#[track_metrics]
fn generic<T: std::fmt::Display + Clone>(value: &T, (a, b): (u32, u32)) -> String {
    format!("{value}{}", a + b)
}

#[track_llm_usage(provider = "anthropic", model = model, operation = "text_completion")]
fn complete(model: &str) -> Result<LlmUsage, std::io::Error> {
    Ok(LlmUsage::new(1, 1))
}

#[cache_metrics(cache_name = "pages")]
async fn page(key: u32) -> Option<Lookup<String>> {
    (key > 0).then(|| Lookup::Miss(key.to_string()))
}

#[monitor_resource(name = "pool")]
fn nothing() {}

fn main() {
    let mut store = Store { items: vec![1, 2] };
    *store.first_mut().unwrap() += 1;
    assert_eq!(store.iter().count(), 2);
    assert_eq!(store.handle("3").unwrap(), 5);
    assert!(store.handle("x").is_err());
    assert_eq!(generic(&"v", (1, 2)), "v3");
    complete("claude").unwrap();
    nothing();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        store.push(4).await.push(5);
        assert_eq!(store.handle_async("ab").await, 2);
        page(1).await;
    });
    assert_eq!(Arc::new(store).shared(), 4);
    let text = unitel::prometheus::render();
    assert!(text.contains("service_handle_errors_total{kind=\"sync\",error_type=\"error\"} 1"));
}
