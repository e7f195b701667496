//! Where log lines go: a byte buffer the request workers append to, and one
//! thread that moves it to stderr. A worker's cost per line is one short
//! critical section and a copy: no allocation, no channel, no `write` call, and
//! no wake-up of the writer thread unless the buffer was empty. The writer
//! lingers a moment after waking so that, under load, one `write` carries many
//! lines (a wake-up and a system call per request line were a visible share of a
//! cheap request on one core).
//!
//! When the sink is stuck (a pipe nobody reads) and the buffer is full, new lines
//! are dropped and counted rather than waited for: a log that blocks would
//! freeze every request, health probes included.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Bytes of lines that may wait for the writer thread; past it, lines are dropped.
const MAX_BUFFERED: usize = 8 << 20;

/// How long the writer waits after a wake-up for more lines to join the batch.
const LINGER: Duration = Duration::from_millis(2);

/// A batch buffer bigger than this is not kept for reuse once written.
const KEEP_CAPACITY: usize = 1 << 20;

/// How long the guard waits at exit for the last lines to be written.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(1);

/// State shared by the workers, the writer thread and the counters.
#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when the queue turns non-empty or is closed.
    wake: Condvar,
    /// Lines dropped because the buffer was full.
    dropped: AtomicU64,
    /// Bytes the sink accepted so far: the sign that a stuck sink moves again.
    written: AtomicU64,
}

#[derive(Debug, Default)]
struct Queue {
    /// Whole lines, oldest first.
    bytes: Vec<u8>,
    /// No more lines: write what is left and stop.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the lock leaves whole lines behind: still usable.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `MakeWriter` the subscriber formats into: every line it gets is queued.
#[derive(Clone, Debug)]
pub struct Sink {
    shared: Arc<Shared>,
}

/// Counts of the sink, readable from anywhere.
#[derive(Clone, Debug)]
pub struct Counters {
    shared: Arc<Shared>,
}

impl Counters {
    /// Lines dropped since start because the sink was stuck and the buffer full.
    pub fn dropped_lines(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Bytes written to the sink since start.
    pub fn written_bytes(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }
}

/// Keep it alive until exit: dropping it writes what is still queued (waiting
/// at most a second for a stuck sink) and stops the writer thread.
#[derive(Debug)]
pub struct LogGuard {
    shared: Arc<Shared>,
    done: Option<mpsc::Receiver<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(done) = self.done.take() {
            let _ = done.recv_timeout(FLUSH_AT_EXIT);
        }
    }
}

/// Starts the writer thread moving queued lines to `out`.
pub fn start<W: Write + Send + 'static>(out: W) -> (Sink, Counters, LogGuard) {
    let shared = Arc::new(Shared::default());
    let (done_tx, done) = mpsc::channel();
    let writer = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("wa-twostep-log".into())
        .spawn(move || {
            run(&writer, out);
            let _ = done_tx.send(());
        });
    let done = match spawned {
        Ok(_) => Some(done),
        Err(e) => {
            // Without the thread nothing is written; say so the one way left.
            eprintln!("wa-twostep: cannot start the log writer thread: {e}");
            None
        }
    };
    let sink = Sink {
        shared: shared.clone(),
    };
    let counters = Counters {
        shared: shared.clone(),
    };
    (sink, counters, LogGuard { shared, done })
}

/// The writer thread: waits for lines, lingers, writes the batch, repeats;
/// after close, writes what is left and returns.
fn run<W: Write>(shared: &Shared, mut out: W) {
    let mut spare = Vec::new();
    loop {
        let closing = {
            let mut queue = shared.lock();
            while queue.bytes.is_empty() && !queue.closed {
                queue = shared.wake.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
            if queue.bytes.is_empty() {
                return;
            }
            queue.closed
        };
        if !closing {
            std::thread::sleep(LINGER);
        }
        let batch = std::mem::replace(&mut shared.lock().bytes, std::mem::take(&mut spare));
        if out.write_all(&batch).and_then(|()| out.flush()).is_ok() {
            shared
                .written
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        spare = batch;
        spare.clear();
        if spare.capacity() > KEEP_CAPACITY {
            spare = Vec::new();
        }
    }
}

/// One line's writer (the subscriber writes each line with one `write_all`).
#[derive(Debug)]
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut queue = self.shared.lock();
        if queue.bytes.len() + line.len() > MAX_BUFFERED {
            drop(queue);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            // Reported as written: the subscriber must not retry or complain.
            return Ok(line.len());
        }
        let was_empty = queue.bytes.is_empty();
        queue.bytes.extend_from_slice(line);
        drop(queue);
        if was_empty {
            // Only the first line of a batch wakes the writer.
            self.shared.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    /// Queues one whole line (see [`LineWriter`]).
    pub fn write_line(&self, line: &[u8]) {
        let _ = LineWriter {
            shared: &self.shared,
        }
        .write(line);
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that records what reached it, optionally blocking until released.
    #[derive(Clone, Default)]
    struct Recorder {
        out: Arc<Mutex<Vec<u8>>>,
        gate: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Recorder {
        fn blocked() -> Recorder {
            let r = Recorder::default();
            *r.gate.0.lock().unwrap() = true;
            r
        }
        fn release(&self) {
            *self.gate.0.lock().unwrap() = false;
            self.gate.1.notify_all();
        }
        fn text(&self) -> String {
            String::from_utf8(self.out.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (lock, cvar) = &*self.gate;
            let mut blocked = lock.lock().unwrap();
            while *blocked {
                blocked = cvar.wait(blocked).unwrap();
            }
            self.out.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_in_order_and_the_guard_flushes_at_exit() {
        let recorder = Recorder::default();
        let (sink, counters, guard) = start(recorder.clone());
        for i in 0..10_000 {
            sink.make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        drop(guard);
        let text = recorder.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 10_000);
        assert!(lines
            .iter()
            .enumerate()
            .all(|(i, l)| *l == format!("line {i}")));
        assert_eq!(counters.dropped_lines(), 0);
        assert_eq!(counters.written_bytes(), text.len() as u64);
    }

    #[test]
    fn a_stuck_sink_drops_lines_past_the_buffer_and_counts_them() {
        let recorder = Recorder::blocked();
        let (sink, counters, guard) = start(recorder.clone());
        let line = vec![b'x'; 1023]
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<u8>>();
        // The first batch is taken by the writer (and blocks in it); the buffer
        // then fills to MAX_BUFFERED and the rest is dropped, without blocking here.
        let n = 2 * MAX_BUFFERED / line.len() + 100;
        for _ in 0..n {
            sink.make_writer().write_all(&line).unwrap();
        }
        let dropped = counters.dropped_lines();
        assert!(
            dropped > 0 && dropped < n as u64,
            "dropped {dropped} of {n}"
        );
        recorder.release();
        drop(guard);
        let written = recorder.text().lines().count() as u64;
        assert_eq!(written + dropped, n as u64);
        assert_eq!(counters.written_bytes(), written * line.len() as u64);
    }
}
