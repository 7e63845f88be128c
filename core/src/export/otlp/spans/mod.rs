//! OTLP span export: the non-blocking span processor and its batch task ([`queue`]), the
//! direct protobuf encoder ([`encode`], with its wire helpers in [`wire`]) and the sender that
//! puts encoded batches on the wire ([`sender`]).

mod encode;
mod queue;
mod sender;
mod wire;

pub(crate) use queue::{SpanPipeline, start_spans};
