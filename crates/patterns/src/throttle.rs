//! Keeps a flood of messages from flooding the log.
//!
//! A server logs every message a student sends by hand: that is the lesson. But a benchmark, a UDP flood
//! or 10,000 framed messages written back to back would bury the terminal (and slow the server down to
//! the speed of the terminal). So each connection (or UDP socket) logs the first `per_second` messages of
//! every second one by one, and says how many it did not show.

use std::time::{Duration, Instant};

/// Per-second budget of log lines.
#[derive(Debug)]
pub struct LogThrottle {
    per_second: u32,
    window_start: Instant,
    in_window: u32,
}

impl LogThrottle {
    pub fn new(per_second: u32) -> Self {
        LogThrottle {
            per_second,
            window_start: Instant::now(),
            in_window: 0,
        }
    }

    /// Should this message be logged? When a window closed with messages left unlogged, also returns how
    /// many (to log as a summary line).
    pub fn admit(&mut self, now: Instant) -> (bool, Option<u32>) {
        let mut skipped = None;
        if now.duration_since(self.window_start) >= Duration::from_secs(1) {
            skipped = self.flush();
            self.window_start = now;
        }
        self.in_window += 1;
        (self.in_window <= self.per_second, skipped)
    }

    /// Messages of the current window not logged yet (call when the connection ends); resets the count.
    pub fn flush(&mut self) -> Option<u32> {
        let skipped = self.in_window.saturating_sub(self.per_second);
        self.in_window = 0;
        (skipped > 0).then_some(skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_floods_and_reports_the_rest() {
        let mut th = LogThrottle::new(2);
        let t0 = Instant::now();
        assert_eq!(th.admit(t0), (true, None));
        assert_eq!(th.admit(t0), (true, None));
        assert_eq!(th.admit(t0), (false, None));
        assert_eq!(th.admit(t0 + Duration::from_secs(2)), (true, Some(1)));
        assert_eq!(th.admit(t0 + Duration::from_secs(2)), (true, None));
        assert_eq!(th.admit(t0 + Duration::from_secs(2)), (false, None));
        assert_eq!(th.flush(), Some(1));
        assert_eq!(th.flush(), None);
    }
}
