//! The JSON lines of `tcpsim run NAME --format json` are what
//! `docs/trace.schema.json` says they are, for every catalogue scenario;
//! and the fields mean what the schema says: relative numbers are relative
//! to the ISN, `win` is the scaled window, and a packet is a retransmission
//! on all of its rows or on none.

use scenarios::catalogue;
use scenarios::render::json::{SCHEMA_NAME, SCHEMA_VERSION};
use scenarios::render::json_lines;
use serde_json::Value;
use std::collections::BTreeMap;

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/trace.schema.json");

fn schema() -> Value {
    let text = std::fs::read_to_string(SCHEMA_PATH).expect("docs/trace.schema.json is readable");
    serde_json::from_str(&text).expect("the schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema()).expect("the schema is a valid draft 2020-12 schema")
}

fn lines_of(name: &str, seed: u64) -> Vec<Value> {
    let outcome = catalogue::find(name).unwrap().run(seed).unwrap();
    json_lines(&outcome)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
        .collect()
}

#[test]
fn every_line_of_every_catalogue_scenario_validates_against_the_schema() {
    // Every line of every scenario's output is checked by an independent
    // JSON Schema validator, so a field the renderer adds, drops or types
    // differently than the document says fails here.
    let validator = validator();
    for scenario in catalogue::all() {
        let lines = lines_of(scenario.name, 1);
        assert!(lines.len() >= 3, "{}: header, events, end", scenario.name);
        for (n, line) in lines.iter().enumerate() {
            let errors: Vec<String> = validator.iter_errors(line).map(|e| e.to_string()).collect();
            assert!(
                errors.is_empty(),
                "{} line {}: {line}\n{}",
                scenario.name,
                n + 1,
                errors.join("\n")
            );
        }
        assert_eq!(lines[0]["event"], "header", "{}", scenario.name);
        assert_eq!(lines[lines.len() - 1]["event"], "end", "{}", scenario.name);
        let events = &lines[1..lines.len() - 1];
        assert_eq!(
            Some(events.len() as u64),
            lines[lines.len() - 1]["trace_events"].as_u64(),
            "{}: one line per trace event",
            scenario.name
        );
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e["index"].as_u64(), Some(i as u64), "{}", scenario.name);
        }
    }
}

#[test]
fn the_schema_document_and_the_renderer_agree_on_name_and_version() {
    // A version bump in the code without one in the document (or the
    // reverse) would let tools read lines with the wrong expectations.
    let schema = schema();
    let header = &schema["$defs"]["header"]["properties"];
    assert_eq!(header["schema"]["const"], SCHEMA_NAME);
    assert_eq!(header["schema_version"]["const"], SCHEMA_VERSION);
    assert_eq!(schema["$id"], format!("{SCHEMA_NAME}/{SCHEMA_VERSION}"));
}

#[test]
fn the_schema_rejects_lines_that_break_it() {
    // The validator must be able to fail: a real row with a field removed,
    // a field of the wrong type, or a field the schema does not know is
    // refused, so the test above is not passing vacuously.
    let validator = validator();
    let lines = lines_of("lost-final-ack", 1);
    let row = lines
        .iter()
        .find(|l| l["event"] == "send")
        .expect("a send row")
        .clone();
    assert!(validator.is_valid(&row));
    let mut missing = row.clone();
    missing.as_object_mut().unwrap().remove("seq_rel");
    assert!(!validator.is_valid(&missing), "seq_rel is required");
    let mut wrong_type = row.clone();
    wrong_type["retransmission"] = Value::from("no");
    assert!(
        !validator.is_valid(&wrong_type),
        "retransmission is a boolean"
    );
    let mut unknown = row.clone();
    unknown["window"] = Value::from(1);
    assert!(!validator.is_valid(&unknown), "unknown fields are refused");
    let mut drop_without_reason = row;
    drop_without_reason["event"] = Value::from("drop");
    assert!(!validator.is_valid(&drop_without_reason), "a drop says why");
}

#[test]
fn relative_numbers_count_from_each_directions_isn_and_win_is_scaled() {
    // Relative numbers are the wire numbers minus the ISN of their
    // direction (taken from that direction's SYN, whose seq_rel is 0), and
    // `win` is `win_raw << wscale` with a shift only after both SYNs
    // announced one: checking every segment row of a bulk transfer with
    // window scaling proves the arithmetic, and seeing a window above
    // 65,535 bytes proves the scaling is applied.
    let lines = lines_of("lossy-bulk", 1);
    let mut isn: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut scaled_above_16_bits = false;
    for e in lines.iter().filter(|l| l.get("src").is_some()) {
        let (src, dst) = (e["src"].to_string(), e["dst"].to_string());
        if e["flags"].as_str().unwrap().contains('S') && e["event"] == "send" {
            isn.insert((src.clone(), dst.clone()), e["seq"].as_u64().unwrap());
            assert_eq!(e["seq_rel"], 0, "{e}");
            assert_eq!(e["wscale"], 0, "a SYN's window is never scaled: {e}");
        }
        if let Some(&base) = isn.get(&(src.clone(), dst.clone())) {
            let seq = e["seq"].as_u64().unwrap();
            assert_eq!(
                e["seq_rel"].as_u64(),
                Some((seq + (1 << 32) - base) % (1 << 32)),
                "{e}"
            );
        }
        if e["flags"].as_str().unwrap().contains('.')
            && let Some(&base) = isn.get(&(dst, src))
        {
            let ack = e["ack"].as_u64().unwrap();
            assert_eq!(
                e["ack_rel"].as_u64(),
                Some((ack + (1 << 32) - base) % (1 << 32)),
                "{e}"
            );
        }
        let (win, raw, shift) = (
            e["win"].as_u64().unwrap(),
            e["win_raw"].as_u64().unwrap(),
            e["wscale"].as_u64().unwrap(),
        );
        assert_eq!(win, raw << shift, "{e}");
        scaled_above_16_bits |= win > 65_535;
    }
    assert!(
        scaled_above_16_bits,
        "the bulk receiver's window exceeds 16 bits"
    );
}

/// What identifies a packet's bytes in a row: every segment field, none
/// of the row's own (index, time, event, node, link).
fn packet_identity(row: &Value) -> String {
    let mut fields = row.as_object().unwrap().clone();
    for own in [
        "index",
        "time_ns",
        "event",
        "node",
        "link",
        "reason",
        "reason_kind",
    ] {
        fields.remove(own);
    }
    fields.remove("retransmission");
    Value::Object(fields).to_string()
}

#[test]
fn a_retransmission_says_so_on_every_row_of_its_life() {
    // A retransmitted segment's enqueue, drop, duplicate, delivery and any
    // router's forward carry the flag its host's send did. Rows whose bytes
    // are identical belong to the same packet unless the host sent those
    // bytes more than once; so, wherever the host's sends of a byte string
    // agree, every row of those bytes must agree with them. Across the
    // whole catalogue at two seeds, and with at least one retransmission
    // delivered, so the check is not empty.
    let mut retransmitted_rows = 0;
    for seed in [1, 3] {
        for scenario in catalogue::all() {
            let lines = lines_of(scenario.name, seed);
            let mut by_packet: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
            for e in lines.iter().filter(|l| l.get("retransmission").is_some()) {
                by_packet.entry(packet_identity(e)).or_default().push(e);
            }
            for rows in by_packet.values() {
                let sent: Vec<bool> = rows
                    .iter()
                    .filter(|r| r["event"] == "send")
                    .map(|r| r["retransmission"].as_bool().unwrap())
                    .collect();
                let Some(&first) = sent.first() else { continue };
                if sent.iter().any(|&f| f != first) {
                    continue; // the same bytes sent as original and again
                }
                for r in rows {
                    assert_eq!(
                        r["retransmission"].as_bool(),
                        Some(first),
                        "{} seed {seed}: {r}",
                        scenario.name
                    );
                    if first && r["event"] == "deliver" {
                        retransmitted_rows += 1;
                    }
                }
            }
        }
    }
    assert!(retransmitted_rows > 0, "some retransmission was delivered");
}

#[test]
fn the_lost_final_acks_retransmitted_fin_is_a_retransmission_where_it_arrives() {
    // RFC 9293 §3.6: the server, in LAST-ACK, resends its FIN when the
    // final ACK is lost. The resent FIN's send, enqueue and delivery rows
    // all say retransmission; the first FIN's rows say it is not.
    let lines = lines_of("lost-final-ack", 1);
    let fins: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["src"]
                .as_str()
                .is_some_and(|a| a.starts_with("10.0.0.2:"))
        })
        .filter(|l| l["flags"].as_str().is_some_and(|f| f.contains('F')))
        .collect();
    let flags: Vec<(String, bool)> = fins
        .iter()
        .map(|l| {
            (
                l["event"].as_str().unwrap().to_string(),
                l["retransmission"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, bool)> = [
        ("send", false),
        ("enqueue", false),
        ("deliver", false),
        ("send", true),
        ("enqueue", true),
        ("deliver", true),
    ]
    .iter()
    .map(|(e, f)| (e.to_string(), *f))
    .collect();
    assert_eq!(flags, expected);
}
