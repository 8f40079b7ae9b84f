//! The hot paths one segment takes, each alone: the Internet checksum over
//! one MSS of payload, parsing and emitting a full-size datagram, one
//! connection taking an in-order data segment and answering with its ACK,
//! and finding a segment's connection among 1,000 and among 1,000,000.
//! (The engine's event queue is in `engine`, whole workloads in `workloads`.)
//!
//!     cargo bench -p tcpsim-benches --bench hot_path -- --quick
//!
//! The 1,000,000-connection table is built once (about a second and a
//! gigabyte of server TCBs); set `TCPSIM_BENCH_SMALL=1` to skip it.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use stack::wire::{
    Flags, IpPair, TcpOptions, TcpRepr, emit_datagram, internet_checksum, parse_datagram,
};
use stack::{SeqNum, TcpConfig};
use std::hint::black_box;
use tcpsim_benches::{EndpointPair, PAIR_A, PAIR_B, ServerTable, TABLE_PORT};

/// A 1448-byte data segment with timestamps, as W1 sends: a 1500-byte datagram.
fn data_repr(payload: &[u8]) -> TcpRepr<'_> {
    TcpRepr {
        src_port: 40000,
        dst_port: 5001,
        seq: SeqNum(1_000_000),
        ack: SeqNum(2_000_000),
        flags: Flags::ACK,
        window: 32768,
        urgent: 0,
        options: TcpOptions {
            timestamps: Some((123_456, 654_321)),
            ..TcpOptions::default()
        },
        payload,
    }
}

const PAIR: IpPair = IpPair {
    src: PAIR_A,
    dst: PAIR_B,
};

fn checksum(c: &mut Criterion) {
    let data: Vec<u8> = (0..1460u32).map(|i| (i * 7) as u8).collect();
    let mut group = c.benchmark_group("checksum");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("1460B", |b| b.iter(|| internet_checksum(black_box(&data))));
    group.finish();
}

fn wire(c: &mut Criterion) {
    let payload = vec![0x5au8; 1448];
    let mut datagram = Vec::with_capacity(1500);
    emit_datagram(PAIR, &data_repr(&payload), &mut datagram);
    assert_eq!(datagram.len(), 1500);
    let mut group = c.benchmark_group("segment");
    group.throughput(Throughput::Bytes(1500));
    // Parse verifies both checksums, so it reads every byte once.
    group.bench_function("parse_1500B", |b| {
        b.iter(|| {
            let (_, repr) = parse_datagram(black_box(&datagram)).unwrap();
            black_box(repr.seq)
        })
    });
    // Emit writes headers, copies the payload and sums it.
    let mut out = Vec::with_capacity(1500);
    group.bench_function("emit_1500B", |b| {
        b.iter(|| {
            emit_datagram(PAIR, black_box(&data_repr(&payload)), &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

/// W1's connection settings (timestamps, window scaling, 4 MiB buffers,
/// NewReno), ACKing every segment so each round has one data segment and
/// one ACK.
fn w1_tcp() -> TcpConfig {
    TcpConfig {
        recv_buffer: 4 * 1024 * 1024,
        send_buffer: 4 * 1024 * 1024,
        delayed_ack: None,
        congestion: stack::cc::CongestionAlgorithm::NewReno,
        ..TcpConfig::default()
    }
}

fn in_order_segment(c: &mut Criterion) {
    let mut pair = EndpointPair::new(w1_tcp());
    let listener = pair.b.listen(5001, 16).unwrap();
    let (client, server) = pair.connect(listener, 5001);
    let payload = vec![0x33u8; 1448];
    let mut read = vec![0u8; 4096];
    let (mut segment, mut ack) = (Vec::with_capacity(1500), Vec::with_capacity(128));
    let mut group = c.benchmark_group("connection");
    group.throughput(Throughput::Elements(1));
    // One round: the sender writes one MSS and emits it; the receiver
    // takes it, the application reads it, the receiver emits its ACK; the
    // sender takes the ACK (which frees the send buffer for the next round).
    group.bench_function("in_order_segment_and_ack", |b| {
        b.iter(|| {
            pair.now += stack::Duration::from_micros(10);
            let now = pair.now;
            assert_eq!(pair.a.send(now, client, &payload), Ok(1448));
            assert!(pair.a.poll_transmit(now, &mut segment), "a data segment");
            pair.b.handle_packet(now, &segment).unwrap();
            assert_eq!(pair.b.recv(now, server, &mut read), Ok(1448));
            assert!(pair.b.poll_transmit(now, &mut ack), "its ACK");
            pair.a.handle_packet(now, &ack).unwrap();
            black_box(ack.len())
        })
    });
    group.finish();
}

fn demux(c: &mut Criterion) {
    let mut sizes = vec![1_000u32];
    if std::env::var_os("TCPSIM_BENCH_SMALL").is_none() {
        sizes.push(1_000_000);
    }
    let mut group = c.benchmark_group("demux");
    group.throughput(Throughput::Elements(1));
    for n in sizes {
        // 65,536 ACKs spread over the table, so the 1M case pays the cache
        // misses a real run's arrivals would.
        let mut table = ServerTable::new(n, 65_536);
        let mut out = Vec::with_capacity(128);
        let mut i = 0;
        group.bench_with_input(BenchmarkId::new("lookup", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % table.acks.len();
                black_box(table.server.lookup(TABLE_PORT, table.acks[i].0))
            })
        });
        // The whole arrival: parse, checksums, find the connection, process a
        // pure ACK that changes nothing (nothing is sent in reply).
        group.bench_with_input(BenchmarkId::new("handle_ack", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % table.acks.len();
                table
                    .server
                    .handle_packet(table.now, &table.acks[i].1)
                    .unwrap();
                assert!(!table.server.poll_transmit(table.now, &mut out));
            })
        });
        // Every sampled ACK found its connection (else lookup timed a miss).
        assert!(
            table
                .acks
                .iter()
                .all(|(r, _)| table.server.lookup(TABLE_PORT, *r).is_some())
        );
        drop(table);
    }
    group.finish();
}

criterion_group!(benches, checksum, wire, in_order_segment, demux);
criterion_main!(benches);
