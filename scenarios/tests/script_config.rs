//! Shell commands in scripts configure the stack as they configure Linux:
//! a sourced `defaults.sh`, `set_sysctls.py`, `sysctl` and `ip link` lines
//! change what the stack sends, and what tcpsim cannot honour is said.

use scenarios::script::{Options, parse, run_file_with, run_logged, run_text};
use std::path::PathBuf;

/// A scratch directory laid out like the gtests: `common/defaults.sh`
/// beside a directory of scripts that source `../common/defaults.sh`.
fn suite_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpsim-config-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("common")).unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    // The two settings of the suite's defaults.sh that shape a SYN-ACK,
    // written the way it writes them.
    std::fs::write(
        dir.join("common/defaults.sh"),
        "#!/bin/bash\n\
         # TCP min, default, and max receive and send buffer sizes.\n\
         sysctl -q net.ipv4.tcp_rmem=\"4096 540000 $((15*1024*1024))\"\n\
         sysctl -q net.ipv4.tcp_timestamps=1\n\
         ip tcp_metrics flush all > /dev/null 2>&1\n",
    )
    .unwrap();
    dir
}

/// A passive open whose SYN-ACK line is `synack`, after the shell block
/// `shell`.
fn passive_open(shell: &str, synack: &str) -> String {
    format!(
        "{shell}\n\
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n\
   +0 bind(3, ..., ...) = 0\n\
   +0 listen(3, 1) = 0\n\
   +0 < S 0:0(0) win 32792 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>\n\
   +0 {synack}\n\
  +.1 < . 1:1(0) ack 1 win 257\n\
   +0 accept(3, ..., ...) = 4\n"
    )
}

fn run_in(dir: &std::path::Path, name: &str, text: &str) -> Result<(), String> {
    let file = dir.join("tests").join(name);
    std::fs::write(&file, text).unwrap();
    run_file_with(&file, 1, Options::default())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn defaults_sh_gives_wscale_8_and_tcp_timestamps_0_removes_ts() {
    // Why: the SYN-ACK is the stack's answer to the configuration. With
    // the suite's tcp_rmem (max 15 MiB) Linux announces wscale 8 and an
    // unscaled window of 65535 (measured with packetdrill on Linux 6.18);
    // without it, tcpsim's own default (6 MiB, wscale 7), so the same
    // line failing there proves the sourced file is what changed it. Then
    // set_sysctls.py's tcp_timestamps=0, in the same multi-line block,
    // must take the TS option out.
    let dir = suite_dir("wscale");
    let with_ts = "> S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr 100,nop,wscale 8>";
    run_in(
        &dir,
        "defaults.pkt",
        &passive_open("`../common/defaults.sh`", with_ts),
    )
    .unwrap();

    let e = run_in(&dir, "bare.pkt", &passive_open("", with_ts)).unwrap_err();
    assert!(e.contains("wscale 7"), "{e}");

    let no_ts = "> S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK,nop,wscale 8>";
    let block =
        "`../common/defaults.sh\n ../common/set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0\n`";
    run_in(&dir, "no-ts.pkt", &passive_open(block, no_ts)).unwrap();
    let e = run_in(&dir, "no-ts-wrong.pkt", &passive_open(block, with_ts)).unwrap_err();
    assert!(e.contains("<mss 1460,nop,nop,sackOK,nop,wscale 8>"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_timed_shell_line_applies_from_its_point_on() {
    // Why: `+0 `sysctl ...`` between events is configuration at that
    // moment: after it, the SYN-ACK has no SACK-permitted option; and a
    // multi-line block with a `\` continuation sets both of its values.
    let text = passive_open(
        "0 `sysctl -q net.ipv4.tcp_timestamps=0 \\\n    net.ipv4.tcp_window_scaling=0`\n+0 `sysctl -q net.ipv4.tcp_sack=0`",
        "> S. 0:0(0) ack 1 win 64240 <mss 1460>",
    );
    run_text("t.pkt", &text, 1).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn ip_link_mtu_sets_the_mss() {
    // Why: `ip link set dev tun0 mtu 1200` is the path MTU the stack
    // announces its MSS from: 1200 minus 40 bytes of IPv4 and TCP header.
    let text = passive_open(
        "`ip link set dev tun0 mtu 1200\nsysctl -q net.ipv4.tcp_timestamps=0`",
        "> S. 0:0(0) ack 1 <mss 1160,nop,nop,sackOK,nop,wscale 7>",
    );
    run_text("t.pkt", &text, 1).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn an_unknown_sysctl_and_unmodelled_commands_warn_by_name() {
    // Why: a setting tcpsim ignores must never be silent: the script still
    // runs, and the warnings name the sysctl and the command, with line.
    let text = passive_open(
        "`sysctl -q net.ipv4.tcp_no_such_knob=1\nnstat -n\nsysctl -q net.ipv4.tcp_frto=2`",
        "> S. 0:0(0) ack 1 <...>",
    );
    let script = parse("t.pkt", &text).unwrap();
    let (result, warnings) = run_logged(&script, 1, Options::default());
    result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        warnings,
        [
            "t.pkt:1: sysctl net.ipv4.tcp_no_such_knob=1: unknown sysctl net.ipv4.tcp_no_such_knob: tcpsim does not model it",
            "t.pkt:2: `nstat -n`: not run: tcpsim runs no programs (only sysctl, echo to /proc/sys, set_sysctls.py, ip link mtu and sourced shell files configure it)",
            "t.pkt:3: sysctl net.ipv4.tcp_frto=2: not modelled yet: F-RTO (RFC 5682)",
        ]
    );
}

#[test]
fn a_malformed_value_fails_naming_line_and_value() {
    // Why: a typo in a setting must stop the script at the line it is on,
    // not run it with the default.
    let text = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                +0 `sysctl -q net.ipv4.tcp_sack=1\n\
                    sysctl -q net.ipv4.tcp_rmem=\"4096 lots 6291456\"`\n\
                +0 close(3) = 0\n";
    let e = run_text("t.pkt", text, 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.pkt:3: sysctl net.ipv4.tcp_rmem=\"4096 lots 6291456\": not an integer"
    );
}

/// A connection the script accepted at 0.1 s (one RTT sample of 100 ms),
/// then a write whose segment leaves at once and, unacknowledged, again at
/// the retransmission timeout (300 ms: RFC 6298's SRTT + 4 RTTVAR), written
/// for `first` and `again` after the write.
fn retransmission(first: &str, again: &str) -> String {
    passive_open(
        "`sysctl -q net.ipv4.tcp_timestamps=0`",
        "> S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 7>",
    ) + &format!(
        "   +0 write(4, ..., 10) = 10\n\
         {first} > P. 1:11(10) ack 1\n\
         {again} > P. 1:11(10) ack 1\n"
    )
}

#[test]
fn the_default_tolerance_is_packetdrills_and_exact_is_exact() {
    // Why: unchanged scripts recorded on real hosts are judged as
    // packetdrill judges them: 4000 us, or 12.5% of the time since the
    // previous event when that is more (config.c, run.c verify_time).
    // --exact takes both away. The exact times pass either way.
    let exact = Options {
        exact: true,
        ..Options::default()
    };
    let run = |text: &str, options| {
        let script = parse("t.pkt", text).unwrap();
        scenarios::script::run_with(&script, 1, options).map(|_| ())
    };
    let on_time = retransmission("   +0", "  +.3");
    run(&on_time, Options::default()).unwrap();
    run(&on_time, exact).unwrap();
    // 3 ms late right after the write: within 4000 us.
    let small = retransmission("+.003", "+.297");
    run(&small, Options::default()).unwrap();
    let e = run(&small, exact).unwrap_err().to_string();
    assert!(e.starts_with("t.pkt:11: expected > P. 1:11(10) ack 1 at 0.103000, got > P. 1:11(10) ack 1 at 0.100000 (wrong time)"), "{e}");
    // 30 ms late after 300 ms: within 12.5% (37.5 ms), beyond 4000 us.
    let share = retransmission("   +0", "+.33");
    run(&share, Options::default()).unwrap();
    assert!(run(&share, exact).is_err());
    // 50 ms late after 300 ms is beyond both.
    let e = run(&retransmission("   +0", "+.35"), Options::default())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("t.pkt:12: "), "{e}");
    // A script's own --tolerance_usecs replaces the 4000 us, also under
    // --exact.
    let own = format!("--tolerance_usecs=5000\n{small}");
    run(&own, exact).unwrap();
}

#[test]
fn tcpsim_script_takes_exact_and_profile() {
    // Why: the CLI must reach the same verdicts: 3 ms late passes under
    // packetdrill's tolerance and fails with --exact (exit 1); a profile
    // other than rfc or linux is a usage error (exit 2).
    let dir = suite_dir("cli");
    let file = dir.join("tests/late.pkt");
    std::fs::write(&file, retransmission("+.003", "+.297")).unwrap();
    let tcpsim = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tcpsim"))
            .arg("script")
            .args(extra)
            .arg(&file)
            .output()
            .expect("tcpsim runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = tcpsim(&[]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = tcpsim(&["--profile", "linux"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = tcpsim(&["--exact"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("(wrong time)"), "{out}");
    let (code, _) = tcpsim(&["--profile", "bsd"]);
    assert_eq!(code, Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_linux_profile_turns_rfc_1337_off() {
    // Why: --profile linux must reach the stack, not only the config: the
    // team's RFC 1337 script (an RST in TIME-WAIT is ignored, RFC 1337 §3)
    // passes on the rfc profile, and under linux the RST ends TIME-WAIT,
    // so the stack answers the next segment with a reset, as Linux with
    // tcp_rfc1337=0 does.
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/time-wait/rst.pkt");
    let on = |profile| Options {
        exact: true,
        profile,
        ..Options::default()
    };
    run_file_with(&file, 1, on(scenarios::script::Profile::Rfc)).unwrap();
    let e = run_file_with(&file, 1, on(scenarios::script::Profile::Linux))
        .unwrap_err()
        .to_string();
    assert!(e.contains("got > R 2:2(0) ack 0"), "{e}");
}
