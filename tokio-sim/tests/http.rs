//! hyper's HTTP/1.1 server and client (`common/http.rs`) on simulated
//! hosts: an unmodified HTTP stack gets its bytes through loss and a
//! partition because the TCP underneath retransmits, and the run is a
//! function of the seed.

mod common;

use common::http;
use scenarios::sweep::{Profile, Seeds, Sweep};
use sim::Time;

fn http_sim(seed: u64, loss: f64) -> tcpsim_tokio::Sim {
    http::lossy_sim(seed, loss)
}

#[test]
fn hyper_gets_every_byte_through_loss_and_a_partition() {
    // Four requests on one keep-alive connection, among them a 256 KiB
    // body checked byte by byte, through 5% loss each way on the server's
    // link and a 2-second cut early in the transfer. The exchange passes
    // and the oracles find nothing, and the retransmission count shows
    // that TCP, not hyper, recovered the lost segments (hyper has no
    // retransmission of its own). The same seed gives the same trace.
    let run = http_sim(4, 0.05).execute().unwrap();
    assert_eq!(run.result, Ok(()));
    let retransmissions: usize = (0..run.outcome.host_count())
        .map(|i| run.outcome.retransmissions(i))
        .sum();
    assert!(retransmissions > 0, "no segment was lost and recovered");
    assert!(
        run.outcome.stats.now > Time::from_millis(2_030),
        "{}: finished before the partition healed",
        run.outcome.stats.now
    );
    let again = http_sim(4, 0.05).execute().unwrap();
    assert_eq!(again.trace_hash(), run.trace_hash());
}

#[test]
fn a_heavy_sweep_of_the_hyper_exchange_passes() {
    // The same exchange as a scenario, swept over eight seeds of the heavy
    // profile (10-30% loss, bursts, reordering, duplication, corruption,
    // partitions): every seed delivers all four answers intact.
    let scenario = tcpsim_tokio::sweep::scenario("http", |sim| {
        sim.duration(Time::from_secs(3600));
        sim.host("web", http::server);
        sim.client("browser", http::workload("web"));
    });
    let report = Sweep::new(vec![scenario], Seeds::new(1, 8).unwrap())
        .faults("heavy", Profile::heavy())
        .jobs(2)
        .run();
    assert!(report.passed(), "{:?}", report.failures);
}
