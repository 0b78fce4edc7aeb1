//! The expiry timer: `del … after D` series leave when they expire, not at the next sweep.
//!
//! The feeder publishes the earliest expiry over all programs (Unix ns, see
//! [`ProgramStore::next_expiry`]) on a watch channel after every batch and every GC. This task
//! sleeps until that instant (or the periodic sweep, whichever is first) and then asks the
//! feeder for a GC, which removes what expired and publishes the next instant. The GC runs on
//! the feeder thread between two batches, so a line either updates a series before it expires
//! or starts a fresh one after.
//!
//! A GC walks every series, so GCs are kept apart: at least [`MIN_WAIT`], and at least
//! [`SPACING`] times as long as the last one took (from asking to its answer). Expiries due in
//! between wait for the next GC: with many series expiring at scattered instants, a series
//! goes a little late instead of the feeder doing nothing but GCs.
//!
//! [`ProgramStore::next_expiry`]: crate::store::ProgramStore::next_expiry

use super::Msg;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// The shortest time between two GCs: a wall clock stepping back cannot make the timer spin,
/// and expiries a few ms apart go in one GC.
pub const MIN_WAIT: Duration = Duration::from_millis(100);

/// A GC that took `d` is followed by at least `SPACING × d` without one (so GCs take at most
/// about 5 % of the feeder's time).
pub const SPACING: u32 = 20;

const DAY: Duration = Duration::from_secs(86_400);

/// How long from `now_ns` until `deadline_ns` (zero when it has passed).
pub fn wait_until(deadline_ns: i64, now_ns: i64) -> Duration {
    Duration::from_nanos(deadline_ns.saturating_sub(now_ns).max(0) as u64)
}

/// The time to keep between a GC that took `took` and the next.
pub fn gap_after(took: Duration) -> Duration {
    took.saturating_mul(SPACING).max(MIN_WAIT)
}

/// Ask for a GC at every published expiry and at least every `sweep`; ends on `stop`.
pub async fn run(
    sweep: Duration,
    mut next: watch::Receiver<Option<i64>>,
    tx: mpsc::Sender<Msg>,
    mut stop: watch::Receiver<bool>,
) {
    let mut earliest = Instant::now();
    loop {
        let wait = match *next.borrow_and_update() {
            Some(deadline) => wait_until(deadline, now_ns()).min(sweep),
            None => sweep,
        };
        // A day at most, so no instant overflows whatever the sweep interval.
        let at = (Instant::now() + wait.min(DAY)).max(earliest);
        tokio::select! {
            () = tokio::time::sleep_until(at) => {
                let asked = Instant::now();
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
                let done = Instant::now();
                earliest = done + gap_after(done - asked).min(DAY);
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
    fn waits_until_the_deadline() {
        let s = Duration::from_secs;
        assert_eq!(wait_until(3_000_000_000, 1_000_000_000), s(2));
        assert_eq!(wait_until(1_000, 1_000), Duration::ZERO);
        assert_eq!(wait_until(0, i64::MAX), Duration::ZERO);
        assert_eq!(
            wait_until(i64::MAX, i64::MIN),
            Duration::from_nanos(u64::MAX >> 1)
        );
    }

    #[test]
    fn gcs_are_kept_apart_by_their_cost() {
        let ms = Duration::from_millis;
        assert_eq!(gap_after(ms(1)), MIN_WAIT);
        assert_eq!(gap_after(ms(50)), ms(1000));
        assert_eq!(gap_after(Duration::MAX), Duration::MAX);
    }
}
