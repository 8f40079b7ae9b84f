//! Injecting a script's `< icmp ...` line: the message quotes a segment
//! of the connection under test (the stack's port, then the script's),
//! its sequence number counted from the stack's ISN, as packetdrill maps
//! it (see [`crate::script::icmp`]).

use super::Runner;
use crate::script::ScriptError;
use crate::script::icmp::{IcmpSpec, Quote, datagram};
use crate::script::parse::PacketSpec;

impl Runner<'_> {
    pub(super) fn inject_icmp(
        &mut self,
        line: usize,
        spec: &PacketSpec,
        icmp: &IcmpSpec,
    ) -> Result<(), ScriptError> {
        let quote = Quote {
            remote: self.script.remote_ip,
            local: self.script.local_ip,
            local_port: self.tuple.0,
            remote_port: self.tuple.1,
            seq: self.local_isn.unwrap_or(0).wrapping_add(spec.start),
            len: spec.len,
        };
        let mut bytes = std::mem::take(&mut self.scratch);
        datagram(icmp, &quote, &mut bytes);
        let result = self.ep.handle_packet(self.now, &bytes);
        self.scratch = bytes;
        if let Err(e) = result {
            return Err(self.fail(line, format!("the stack rejected the ICMP datagram: {e}")));
        }
        self.segments_in += 1;
        self.flush()
    }
}
