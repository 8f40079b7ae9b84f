//! The loss-recovery comparison: one bench workload (typically W2, lossy
//! bulk) over many seeds with each loss recovery the stack has, SACK on:
//! RFC 6675 alone, RFC 8985 RACK-TLP, RFC 6937 PRR, and both with the
//! D-SACK undo (Linux's set). `tcpsim bench W2 --sack --compare-recovery 20`.
//!
//! Each cell is a mean over the seeds of what the bench measured:
//! segments retransmitted, retransmission timeouts, and the completion
//! time (the last data delivered). The same seed gives each variant the
//! same loss pattern until their sending diverges.

use crate::bench::{BenchError, Options, Workload, run};
use stack::TcpConfig;

/// Which loss recovery a bench host runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Recovery {
    /// RFC 6675 (with SACK) or RFC 6582 (without): the default.
    #[default]
    Rfc,
    /// RFC 8985 RACK-TLP, without PRR.
    RackTlp,
    /// RFC 6937 PRR on RFC 6675 recovery.
    Prr,
    /// RACK-TLP, PRR and the D-SACK/timestamp undo: `TcpConfig::linux()`'s.
    Linux,
}

impl Recovery {
    /// Every variant, in the table's order.
    pub const ALL: [Recovery; 4] = [
        Recovery::Rfc,
        Recovery::RackTlp,
        Recovery::Prr,
        Recovery::Linux,
    ];

    /// Parses `rfc`, `rack-tlp`, `prr` or `linux`.
    pub fn parse(name: &str) -> Option<Recovery> {
        Some(match name {
            "rfc" | "rfc6675" => Recovery::Rfc,
            "rack-tlp" | "rack" => Recovery::RackTlp,
            "prr" => Recovery::Prr,
            "linux" => Recovery::Linux,
            _ => return None,
        })
    }

    /// The name `parse` takes.
    pub fn name(self) -> &'static str {
        match self {
            Recovery::Rfc => "rfc",
            Recovery::RackTlp => "rack-tlp",
            Recovery::Prr => "prr",
            Recovery::Linux => "linux",
        }
    }

    /// `tcp` with this recovery's options set.
    pub fn apply(self, tcp: TcpConfig) -> TcpConfig {
        let (rack, prr, undo) = match self {
            Recovery::Rfc => (false, false, false),
            Recovery::RackTlp => (true, false, false),
            Recovery::Prr => (false, true, false),
            Recovery::Linux => (true, true, true),
        };
        TcpConfig {
            rack,
            tlp: rack,
            prr,
            undo,
            ..tcp
        }
    }
}

/// Means over the seeds for one variant.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Row {
    /// The variant.
    pub recovery: Recovery,
    /// Mean segments retransmitted per run.
    pub retransmissions: f64,
    /// Mean retransmission timeouts per run.
    pub timeouts: f64,
    /// Mean completion time in seconds.
    pub completion_s: f64,
    /// Runs whose check failed (every byte must arrive once, in order).
    pub failed: u64,
}

/// Runs `workload` with `options` (SACK forced on) for seeds
/// `options.seed ..` (`seeds` of them) under every variant.
pub fn compare(workload: Workload, options: &Options, seeds: u64) -> Result<Vec<Row>, BenchError> {
    let mut rows = Vec::new();
    for recovery in Recovery::ALL {
        let mut row = Row {
            recovery,
            ..Row::default()
        };
        let mut ok = 0u64;
        for i in 0..seeds {
            let o = Options {
                seed: options.seed.wrapping_add(i),
                sack: true,
                recovery,
                ..options.clone()
            };
            match run(workload, &o) {
                Ok((m, _)) => {
                    ok += 1;
                    row.retransmissions += m.retransmissions as f64;
                    row.timeouts += m.timeouts as f64;
                    row.completion_s += m.simulated.as_nanos() as f64 / 1e9;
                }
                Err(BenchError::Options(e)) => return Err(BenchError::Options(e)),
                Err(_) => row.failed += 1,
            }
        }
        let n = ok.max(1) as f64;
        row.retransmissions /= n;
        row.timeouts /= n;
        row.completion_s /= n;
        rows.push(row);
    }
    Ok(rows)
}

/// `tcpsim bench W --compare-recovery N`: the table on `out`; `false` if
/// any run failed its check.
pub fn command(
    workload: Workload,
    options: &Options,
    seeds: u64,
    out: &mut impl std::io::Write,
) -> Result<bool, crate::cli::UsageError> {
    use crate::cli::UsageError;
    if seeds == 0 {
        return Err(UsageError("--compare-recovery 0: at least one seed".into()));
    }
    if !matches!(workload, Workload::W1 | Workload::W2) {
        return Err(UsageError(format!(
            "--compare-recovery: a bulk workload (W1 or W2), not {}",
            workload.name()
        )));
    }
    let rows = compare(workload, options, seeds).map_err(|e| UsageError(e.to_string()))?;
    let io = |e: std::io::Error| UsageError(format!("writing the report: {e}"));
    writeln!(
        out,
        "{}: seeds {}..{}, SACK on, means per run",
        workload.name(),
        options.seed,
        options.seed.wrapping_add(seeds - 1)
    )
    .map_err(io)?;
    writeln!(
        out,
        "  {:<10} {:>16} {:>10} {:>15} {:>7}",
        "recovery", "retransmissions", "RTOs", "completion (s)", "failed"
    )
    .map_err(io)?;
    for r in &rows {
        writeln!(
            out,
            "  {:<10} {:>16.1} {:>10.2} {:>15.4} {:>7}",
            r.recovery.name(),
            r.retransmissions,
            r.timeouts,
            r.completion_s,
            r.failed
        )
        .map_err(io)?;
    }
    Ok(rows.iter().all(|r| r.failed == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_sets_only_its_options() {
        // The variants differ only in the four recovery options; RACK
        // brings TLP with it, `linux` is TcpConfig::linux()'s recovery.
        let base = TcpConfig::default();
        let rfc = Recovery::Rfc.apply(base.clone());
        assert!(!rfc.rack && !rfc.tlp && !rfc.prr && !rfc.undo);
        let linux = Recovery::Linux.apply(base.clone());
        let reference = TcpConfig::linux();
        assert_eq!(
            (linux.rack, linux.tlp, linux.prr, linux.undo),
            (reference.rack, reference.tlp, reference.prr, reference.undo)
        );
        for r in Recovery::ALL {
            assert_eq!(Recovery::parse(r.name()), Some(r));
        }
        assert_eq!(Recovery::parse("bbr"), None);
    }
}
