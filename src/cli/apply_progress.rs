//! The live display of `tenantd apply` on a terminal: one line per tenant being converged
//! (its current step), and a total of tenants done and failed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::plan::describe_step;
use crate::reconcile::{ExecEvent, ProgressSink};
use crate::spec::TenantName;
use crate::status::ApplyFact;

/// The display, drawn on stdout while it lives. `clear` removes it before the summary lines.
pub struct ApplyProgress {
    multi: MultiProgress,
    total: ProgressBar,
    tenants: Mutex<HashMap<TenantName, ProgressBar>>,
    failed: AtomicUsize,
}

impl ApplyProgress {
    /// `with_work`: how many tenants have steps to run.
    pub fn start(with_work: usize) -> Arc<Self> {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let total = multi.add(ProgressBar::new(with_work as u64));
        total.set_style(
            ProgressStyle::with_template("{spinner} converging {pos}/{len} tenants [{bar:24}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        total.set_message("0 failed");
        total.enable_steady_tick(Duration::from_millis(120));
        Arc::new(Self { multi, total, tenants: Mutex::new(HashMap::new()), failed: AtomicUsize::new(0) })
    }

    /// The sink `execute_reporting` tells how each tenant goes.
    pub fn sink(self: &Arc<Self>) -> ProgressSink {
        let me = Arc::clone(self);
        ProgressSink::new(move |event| me.on(event))
    }

    fn on(&self, event: &ExecEvent<'_>) {
        let Ok(mut tenants) = self.tenants.lock() else { return };
        match event {
            ExecEvent::Started { tenant, .. } => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {prefix}: {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(tenant.to_string());
                bar.set_message("starting");
                bar.enable_steady_tick(Duration::from_millis(120));
                tenants.insert((*tenant).clone(), bar);
            }
            ExecEvent::Step { tenant, index, total, step } => {
                if let Some(bar) = tenants.get(*tenant) {
                    bar.set_message(format!("[{index}/{total}] {}", describe_step(step)));
                }
            }
            ExecEvent::WaitingHealthy { tenant } => {
                if let Some(bar) = tenants.get(*tenant) {
                    bar.set_message("waiting for it to become healthy");
                }
            }
            ExecEvent::Finished { tenant, outcome } => {
                if let Some(bar) = tenants.remove(*tenant) {
                    self.multi.remove(&bar);
                    bar.finish_and_clear();
                }
                if matches!(outcome.fact, ApplyFact::Failed { .. } | ApplyFact::RolledBack { .. }) {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                }
                self.total.inc(1);
                self.total.set_message(format!("{} failed", self.failed.load(Ordering::Relaxed)));
            }
        }
    }

    /// Removes the display, leaving the terminal to the summary lines.
    pub fn clear(&self) {
        self.total.finish_and_clear();
        // The display is gone either way; an error here would only mean a closed terminal.
        let _ = self.multi.clear();
    }
}
