//! Spans in an event's trace, for export to an OpenTelemetry collector.
//!
//! Every event carries the trace id of the request that caused it
//! (`traceId`, 32 hex digits, the `X-Trace-Id` of the response). When spans
//! are exported (the binary installs the exporter and calls [`enable`]), the
//! request's span, the dispatcher's publish of the event and every node's
//! delivery of it are put in that trace, so one stage change can be followed
//! from the API call to the push on each node. Spans that are not exported
//! cost nothing here: [`join`] returns at once, and the spans only an
//! exporter reads are not created (`solo_domain::spans`).

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Puts `span` in the trace `trace_id`, under `parent` (the span id of a
/// request's `traceparent`) or else under the trace's root as Solo names it.
/// The root's span id is the trace id's last 16 hex digits: the same on every
/// node without anyone sending it, so a request, the publish of its events
/// and their deliveries hang under one root in a trace viewer. Does nothing
/// unless spans are exported, or when the ids do not parse.
pub fn join(span: &tracing::Span, trace_id: &str, parent: Option<&str>) {
    if !solo_domain::spans::exported() || span.is_disabled() {
        return;
    }
    let Some(context) = remote_parent(trace_id, parent) else { return };
    // Fails only when the span was already started in another trace.
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(context));
}

/// The remote parent that puts a span in the trace `trace_id`.
fn remote_parent(trace_id: &str, parent: Option<&str>) -> Option<SpanContext> {
    let trace = TraceId::from_hex(trace_id).ok().filter(|t| *t != TraceId::INVALID)?;
    let parent = match parent.and_then(|p| SpanId::from_hex(p).ok()).filter(|s| *s != SpanId::INVALID) {
        Some(parent) => parent,
        None => root_span_id(trace_id)?,
    };
    Some(SpanContext::new(trace, parent, TraceFlags::SAMPLED, true, TraceState::default()))
}

/// The span id Solo gives a trace's root: its last 16 hex digits (1 if they are all zero).
fn root_span_id(trace_id: &str) -> Option<SpanId> {
    let tail = trace_id.get(trace_id.len().checked_sub(16)?..)?;
    let id = SpanId::from_hex(tail).ok()?;
    Some(if id == SpanId::INVALID { SpanId::from_bytes([0, 0, 0, 0, 0, 0, 0, 1]) } else { id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_joins_the_events_trace_under_its_parent_or_the_traces_root() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let root = remote_parent(trace, None).expect("a parent");
        assert_eq!(root.trace_id(), TraceId::from_hex(trace).expect("hex"));
        assert_eq!(root.span_id(), SpanId::from_hex("a3ce929d0e0e4736").expect("hex"), "the same root on every node");
        assert!(root.is_remote() && root.is_sampled());
        let under = remote_parent(trace, Some("00f067aa0ba902b7")).expect("a parent");
        assert_eq!(under.span_id(), SpanId::from_hex("00f067aa0ba902b7").expect("hex"));
        assert_eq!(remote_parent(trace, Some("nope")).map(|c| c.span_id()), Some(root.span_id()));
        assert!(remote_parent("not hex", None).is_none());
        assert!(remote_parent(&"0".repeat(32), None).is_none(), "the invalid trace id");
        let zero_tail = format!("{}{}", "1".repeat(16), "0".repeat(16));
        assert_eq!(root_span_id(&zero_tail), Some(SpanId::from_bytes([0, 0, 0, 0, 0, 0, 0, 1])));
    }
}
