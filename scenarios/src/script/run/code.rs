//! `%{ }%` blocks: which socket they read, when, and how their failures
//! are reported, as packetdrill's code.c does it.
//!
//! packetdrill takes TCP_INFO from `state->socket_under_test`: the socket
//! the latest `socket()` created, replaced by the child connection when a
//! SYN reaches it while it listens (that child has no fd until `accept`
//! returns it, and a block in between dies with "can't find getsockopt to
//! get TCP info"). It takes the values at the block's time but runs all
//! the Python after the last event, in one file: so names persist from
//! block to block, the first failing block stops the Python (later blocks
//! do not run), and that failure is reported only if the rest of the
//! script passed; a later mismatch is reported first. We evaluate each
//! block at its time (the values are the same) and keep its failure until
//! the end, to the same effect; a later mismatch's message mentions it.

use super::Runner;
use super::sockets::FdKind;
use crate::script::ScriptError;
use crate::script::parse::{ACK, PacketSpec, SYN};
use crate::script::tcpinfo::{self, Subject};

/// packetdrill's `socket_under_test`, as an fd of ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(super) enum UnderTest {
    /// No `socket()` yet.
    #[default]
    None,
    /// The socket behind this fd (it may have been closed since).
    Fd(i32),
    /// A SYN reached the listener under test; `accept` has not returned
    /// the connection yet.
    Unaccepted,
}

impl Runner<'_> {
    /// An inbound segment is about to be injected: a SYN reaching the
    /// listener under test makes its connection the socket under test
    /// (packetdrill's handle_listen_for_script_packet).
    pub(super) fn note_inbound(&mut self, p: &PacketSpec) {
        if p.flags & SYN == 0 || p.flags & ACK != 0 {
            return;
        }
        if let UnderTest::Fd(fd) = self.under_test
            && self
                .fds
                .get(&fd)
                .is_some_and(|f| matches!(f.kind, FdKind::Listener(_)))
        {
            self.under_test = UnderTest::Unaccepted;
        }
    }

    /// A `%{ }%` block at its time: defines the `tcpi_*` names from the
    /// socket under test, then runs the code. A Python failure is kept
    /// for the end of the script (see the module doc); a block with no
    /// socket to read fails at once, as packetdrill dies there.
    pub(super) fn run_python_event(&mut self, line: usize, code: &str) -> Result<(), ScriptError> {
        let fd = match self.under_test {
            UnderTest::None => {
                return Err(self.fail(
                    line,
                    "runtime error in code: no socket to use for code (no socket() call before this block)",
                ));
            }
            UnderTest::Unaccepted => {
                return Err(self.fail(
                    line,
                    "runtime error in code: can't find getsockopt to get TCP info (the connection under test has not been accepted yet)",
                ));
            }
            UnderTest::Fd(fd) => fd,
        };
        let Some(f) = self.fds.get(&fd) else {
            return Err(self.fail(
                line,
                format!(
                    "runtime error in code: can't find getsockopt to get TCP info (fd {fd}, the socket under test, is closed)"
                ),
            ));
        };
        // After the first failure packetdrill's Python has stopped: later
        // blocks never run.
        if self.python_failure.is_some() {
            return Ok(());
        }
        let info = match f.kind {
            FdKind::Conn(id) if !f.gone => self.ep.info(id),
            // Released: Linux's socket keeps its last values, in TCP_CLOSE
            // (the stack may still hold a reset connection's, unread data
            // and all).
            FdKind::Conn(id) => self.ep.info(id).or(f.last_info).map(|i| stack::TcpInfo {
                state: stack::State::Closed,
                ..i
            }),
            _ => None,
        };
        let subject = match (f.kind, &info) {
            (_, Some(i)) => Subject::Connection(i),
            (FdKind::Fresh, None) => Subject::Fresh,
            (FdKind::Listener(_), None) => Subject::Listener,
            (FdKind::Conn(_), None) => Subject::Released,
        };
        tcpinfo::define(&mut self.python, subject, self.now);
        // As packetdrill's lexer: spaces and tabs at either end go.
        let text = code.trim_matches([' ', '\t']);
        let result = self.python.exec(text);
        let name = self.script.name.clone();
        for out in self.python.take_output() {
            self.printed.push(format!("{name}:{line}: {out}"));
        }
        if let Err(e) = result {
            let at = line + e.line_offset;
            let message = if e.statement.is_empty() {
                format!("error in Python code: {}", e.message)
            } else {
                format!("error in Python code: {}: {}", e.statement, e.message)
            };
            self.python_failure = Some(ScriptError::line(&name, at, message));
        }
        Ok(())
    }

    /// A mismatch after a failed block: packetdrill reports the mismatch
    /// (its Python never ran); we add what the block said.
    pub(super) fn with_python_note(&self, mut e: ScriptError) -> ScriptError {
        if let Some(p) = &self.python_failure
            && p != &e
        {
            e.message
                .push_str(&format!(" (an earlier %{{ }}% block failed too: {p})"));
        }
        e
    }
}
