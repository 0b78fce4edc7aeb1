//! The expiry timer: `del … after D` series leave when they expire, not at the next sweep.
//!
//! The feeder publishes the earliest expiry over all programs (Unix ns, see
//! [`ProgramStore::next_expiry`]) on a watch channel after every batch and every GC. This task
//! sleeps until that instant (or the periodic sweep, whichever is first) and then asks the
//! feeder for a GC, which removes what expired and publishes the next instant. The GC runs on
//! the feeder thread between two batches, so a line either updates a series before it expires
//! or starts a fresh one after.
//!
//! [`ProgramStore::next_expiry`]: crate::store::ProgramStore::next_expiry

use super::Msg;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The shortest wait between two GCs the timer asks for: a wall clock stepping back cannot
/// make it spin, and a burst of expiries a few ms apart is handled in one GC.
const MIN_WAIT: Duration = Duration::from_millis(5);

/// How long from `now_ns` until `deadline_ns`, at least [`MIN_WAIT`].
pub fn wait_until(deadline_ns: i64, now_ns: i64) -> Duration {
    let ns = deadline_ns.saturating_sub(now_ns).max(0) as u64;
    Duration::from_nanos(ns).max(MIN_WAIT)
}

/// Ask for a GC at every published expiry and at least every `sweep`; ends on `stop`.
pub async fn run(
    sweep: Duration,
    mut next: watch::Receiver<Option<i64>>,
    tx: mpsc::Sender<Msg>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let wait = match *next.borrow_and_update() {
            Some(deadline) => wait_until(deadline, now_ns()).min(sweep),
            None => sweep,
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {
                if tx.send(Msg::Gc).await.is_err() {
                    return;
                }
                // The GC publishes the next expiry (unchanged when nothing went): wait for it
                // or for the periodic sweep, so an unchanged instant is not asked for again.
                tokio::select! {
                    r = next.changed() => if r.is_err() { return },
                    () = tokio::time::sleep(sweep) => {}
                    _ = crate::tail::stopped(&mut stop) => return,
                }
            }
            r = next.changed() => if r.is_err() { return },
            _ = crate::tail::stopped(&mut stop) => return,
        }
    }
}

fn now_ns() -> i64 {
    jiff::Timestamp::now().as_nanosecond() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_until_the_deadline_and_never_less_than_the_minimum() {
        assert_eq!(
            wait_until(3_000_000_000, 1_000_000_000),
            Duration::from_secs(2)
        );
        assert_eq!(wait_until(1_000, 1_000), MIN_WAIT);
        assert_eq!(wait_until(0, i64::MAX), MIN_WAIT);
        assert_eq!(
            wait_until(i64::MAX, i64::MIN),
            Duration::from_nanos(u64::MAX >> 1)
        );
    }
}
