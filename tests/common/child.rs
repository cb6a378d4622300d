//! A program the test drives as a user would: lines written to its stdin,
//! lines read from its stdout, and an exit that must be clean. The chat
//! example and the browser driver both run this way; the server's own
//! stderr is read with [`lines_of`] too.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Every line `source` yields, read on a thread of its own so a test can
/// wait for one with a bound. The pipe is drained to its end even once
/// nobody listens, so the child never blocks on (or fails at) a write.
pub fn lines_of(source: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(source).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    lines
}

/// A running child with its stdin and stdout piped; killed if the test
/// ends without [`Driven::finish`].
pub struct Driven {
    /// What the child is, for failure messages ("chat", "browser driver").
    what: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Driven {
    /// Starts `command` (stderr is inherited, so its output shows with a
    /// failing test).
    pub fn spawn(what: &'static str, command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {what}: {e}"));
        let lines = lines_of(child.stdout.take().expect("stdout is piped"));
        Self {
            what,
            stdin: child.stdin.take(),
            child,
            lines,
        }
    }

    /// Writes `line` and a newline to the child's stdin.
    pub fn send_line(&mut self, line: &str) {
        let what = self.what;
        let stdin = self.stdin.as_mut().expect("stdin is open until finish");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("cannot write to the {what}: {e}"));
    }

    /// The child's next stdout line, waiting at most `wait`; fails the
    /// test naming `awaited` when none comes.
    pub fn next_line(&mut self, awaited: &str, wait: Duration) -> String {
        match self.lines.recv_timeout(wait) {
            Ok(line) => line,
            Err(e) => panic!("the {} printed no line {awaited} ({e})", self.what),
        }
    }

    /// Closes stdin (as Ctrl-D) and waits at most `wait` for a successful
    /// exit; kills the child and fails the test otherwise.
    pub fn finish(&mut self, wait: Duration) {
        self.stdin = None;
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "the {} exited with {status}", self.what);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("the {} did not exit after its input closed", self.what);
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        self.stdin = None;
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
