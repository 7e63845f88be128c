//! Span batches onto the wire: each batch is encoded into a reused buffer and handed to the
//! transport, which owns it while the next batch is encoded.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_sdk::trace::SpanData;

use super::encode::{encode_request, encode_resource};
use crate::config::OtlpProtocol;
use crate::export::otlp::transport::{self, Transport};

/// Sends encoded span batches to the collector, reusing its buffers.
pub(super) struct SpanSender {
    transport: Transport,
    resource: Vec<u8>,
    scratch: Vec<Vec<u8>>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for SpanSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanSender").finish_non_exhaustive()
    }
}

impl SpanSender {
    /// A sender to `endpoint` (gRPC: the collector's address; HTTP: its base URL, `/v1/traces`
    /// is appended) for spans of the resource with these attributes. Connects on first use.
    ///
    /// # Errors
    /// A message when the endpoint or the HTTP client cannot be built.
    pub(super) fn new(
        protocol: OtlpProtocol,
        endpoint: &str,
        timeout: Duration,
        resource: &[(String, String)],
    ) -> Result<Self, String> {
        Ok(Self {
            transport: Transport::new(protocol, endpoint, timeout, transport::TRACE_SERVICE)?,
            resource: encode_resource(resource.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            scratch: Vec::new(),
            buf: Vec::new(),
        })
    }

    /// Encodes `spans` as one request now and returns its sending, which owns everything it
    /// needs: the caller can encode the next batch while this one is on the wire. `Ok(n)`:
    /// accepted, `n` of the spans rejected by the collector (partial success); `Err`: why the
    /// request failed (transport error or error status).
    pub(super) fn prepare(
        &mut self,
        spans: &[SpanData],
    ) -> impl Future<Output = Result<u64, String>> + Send + 'static {
        encode_request(&self.resource, spans, &mut self.scratch, &mut self.buf);
        // The encoded request goes to the wire as is; the next one starts in a buffer of the
        // same size (a copy would allocate the same and write every byte again).
        let next = Vec::with_capacity(self.buf.capacity());
        let body = bytes::Bytes::from(std::mem::replace(&mut self.buf, next));
        let sending = self
            .transport
            .clone()
            .send::<ExportTraceServiceResponse>(body);
        async move { Ok(sending.await?.map_or(0, |answer| rejected(&answer))) }
    }
}

/// Spans the collector says it rejected (partial success).
fn rejected(response: &ExportTraceServiceResponse) -> u64 {
    response
        .partial_success
        .as_ref()
        .map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0))
}
