//! Whether spans leave the process (to an OTLP collector), decided once at
//! start by the binary. The spans that only an exporter reads (store
//! transactions, publishes, deliveries) are created only then: otherwise
//! they would cost every write and every delivery for nobody.

use std::sync::atomic::{AtomicBool, Ordering};

static EXPORTED: AtomicBool = AtomicBool::new(false);

/// Spans are exported from now on.
pub fn set_exported() {
    EXPORTED.store(true, Ordering::Release);
}

/// Whether spans are exported.
pub fn exported() -> bool {
    EXPORTED.load(Ordering::Acquire)
}
