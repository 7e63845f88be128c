// The seed's `labels={"service": "api"}`.
#[unitel::track_metrics(labels = {"service": "api"})]
async fn process_request() {}

fn main() {}
