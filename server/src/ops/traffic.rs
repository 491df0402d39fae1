//! How crowded the server is with uploads, so that background work which can wait (the
//! reviewers' analysis) steps aside on the deadline's rush instead of taking cycles from it.
//!
//! Lowering the readers' CPU priority was not enough (`docs/deadline-rush.md`): a nice-19
//! Tesseract still ran in the moments the uploads waited on fsync, and each moment it held a
//! core delayed the next upload's check. So the readers wait, between steps, until uploads have
//! not been crowded for a while. Uploads are crowded when more are in flight than twice the
//! cores: more are then waiting for a core than being served. A district's everyday traffic
//! (a few uploads at a time) never crowds it; a rush does, and the reading catches up after.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct UploadTraffic {
    in_flight: AtomicUsize,
    /// More than this many uploads at once is crowded.
    crowded_above: usize,
    /// When uploads were last crowded, in milliseconds since `start` (0: never).
    last_crowded_ms: AtomicU64,
    start: Instant,
}

/// One upload in flight, until dropped.
pub struct Uploading(Arc<UploadTraffic>);

impl Drop for Uploading {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl UploadTraffic {
    pub fn new() -> Arc<UploadTraffic> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        UploadTraffic::crowded_above(2 * cores)
    }

    pub fn crowded_above(uploads: usize) -> Arc<UploadTraffic> {
        Arc::new(UploadTraffic {
            in_flight: AtomicUsize::new(0),
            crowded_above: uploads,
            last_crowded_ms: AtomicU64::new(0),
            start: Instant::now(),
        })
    }

    /// Count an upload from the moment its body has arrived (its check and its store).
    pub fn begin(self: &Arc<Self>) -> Uploading {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        if now > self.crowded_above {
            let ms = self.start.elapsed().as_millis() as u64;
            self.last_crowded_ms.store(ms.max(1), Ordering::Relaxed);
        }
        Uploading(self.clone())
    }

    /// Whether uploads have not been crowded for `quiet`.
    pub fn quiet_for(&self, quiet: Duration) -> bool {
        if self.in_flight.load(Ordering::Relaxed) > self.crowded_above {
            return false;
        }
        match self.last_crowded_ms.load(Ordering::Relaxed) {
            0 => true,
            at => self.start.elapsed().as_millis() as u64 >= at + quiet.as_millis() as u64,
        }
    }
}

/// What background work calls before each step: waits while uploads are crowded, until they
/// have been quiet for `quiet`. The default never waits (tests, tools, analysis switched off).
#[derive(Debug, Clone, Default)]
pub struct StepAside {
    traffic: Option<Arc<UploadTraffic>>,
    quiet: Duration,
}

impl StepAside {
    /// `quiet` zero: never wait.
    pub fn for_uploads(traffic: Arc<UploadTraffic>, quiet: Duration) -> StepAside {
        StepAside {
            traffic: (!quiet.is_zero()).then_some(traffic),
            quiet,
        }
    }

    pub async fn wait(&self) {
        let Some(traffic) = &self.traffic else {
            return;
        };
        let poll = (self.quiet / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
        while !traffic.quiet_for(self.quiet) {
            tokio::time::sleep(poll).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn background_work_waits_while_uploads_crowd_and_goes_on_after_a_quiet_spell() {
        let traffic = UploadTraffic::crowded_above(2);
        let aside = StepAside::for_uploads(traffic.clone(), Duration::from_millis(200));
        // Everyday traffic: two at a time is not crowded.
        let (a, b) = (traffic.begin(), traffic.begin());
        tokio::time::timeout(Duration::from_millis(50), aside.wait())
            .await
            .expect("not crowded: no wait");
        // A third at once is: the work waits, and still waits while they finish...
        let c = traffic.begin();
        assert!(
            tokio::time::timeout(Duration::from_millis(100), aside.wait())
                .await
                .is_err()
        );
        drop((a, b, c));
        // ...until the uploads have been quiet for the whole spell, not merely now.
        assert!(!traffic.quiet_for(Duration::from_secs(60)));
        aside.wait().await;
        assert!(traffic.quiet_for(Duration::from_millis(200)));
        // Switched off: never waits, however crowded.
        let _crowd: Vec<_> = (0..5).map(|_| traffic.begin()).collect();
        tokio::time::timeout(
            Duration::from_millis(50),
            StepAside::for_uploads(traffic.clone(), Duration::ZERO).wait(),
        )
        .await
        .expect("switched off");
        StepAside::default().wait().await;
    }
}
