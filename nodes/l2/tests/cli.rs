//! `show bridge-domain`, `show l2fib` layouts and the CLI's error messages (VPP's).

mod common;

use common::*;
use pwire_vnet::builtin_cli::center;
use std::time::Duration;

#[test]
fn show_bridge_domain_columns_and_detail() {
    let mut h = harness("", 2, &[]);
    assert_eq!(h.cli("show bridge-domain"), "no bridge-domains in use\n");
    assert_eq!(
        h.cli("create bridge-domain 7 learn 0 uu-flood 0 mac-age 5 bd-tag blue"),
        "bridge-domain 7\n"
    );
    h.cli("create loopback interface");
    h.cli("set interface l2 bridge pg0 7");
    h.cli("set interface l2 bridge loop0 7 bvi");
    h.cli("set interface l2 bridge pg1 3 shg 4"); // BD 3 created implicitly
    let out = h.cli("show bridge-domain");
    let lines: Vec<&str> = out.lines().collect();
    let header = [
        center("BD-ID", 8),
        center("Index", 7),
        center("BSN", 4),
        center("Age(min)", 9),
        center("Learning", 9),
        center("U-Forwrd", 9),
        center("UU-Flood", 11),
        center("Flooding", 9),
        center("ARP-Term", 9),
        center("arp-ufwd", 9),
        "Learn-count".to_string(),
        "Learn-limit".to_string(),
        center("BVI-Intf", 11),
    ]
    .join(" ");
    assert_eq!(lines[0], header);
    let row7 = [
        center("7", 8),
        center("1", 7),
        center("0", 4),
        center("5", 9),
        center("off", 9),
        center("on", 9),
        center("drop", 11),
        center("on", 9),
        center("off", 9),
        center("off", 9),
        center("0", 8),
        center("16777216", 8),
        center("loop0", 11),
    ]
    .join(" ");
    assert_eq!(lines[1], row7);
    let row3: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        row3,
        ["3", "2", "0", "off", "on", "on", "flood", "on", "off", "off", "0", "16777216", "N/A"]
    );
    assert_eq!(lines.len(), 3);
    // Detail: the member table (the BVI first) and the tag.
    let d = h.cli("show bridge-domain 7 detail");
    let dl: Vec<&str> = d.lines().collect();
    assert_eq!(dl[1], row7);
    assert_eq!(dl[2], "");
    assert_eq!(
        dl[3],
        format!(
            "{}{}{}{}{}{}{}",
            center("Interface", 30),
            center("If-idx", 7),
            center("ISN", 5),
            center("SHG", 5),
            center("BVI", 5),
            center("TxFlood", 9),
            center("VLAN-Tag-Rewrite", 30)
        )
    );
    let m: Vec<Vec<&str>> = dl[4..6]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(m[0], ["loop0", "3", "1", "0", "*", "*", "none"]);
    assert_eq!(m[1], ["pg0", "1", "1", "0", "-", "*", "none"]);
    assert_eq!(dl[6], "");
    assert_eq!(dl[7], "  BD-Tag: blue");
    // Errors.
    assert_eq!(
        h.cli_err("show bridge-domain 0"),
        "show bridge-domain: No operations on the default bridge domain are supported"
    );
    assert_eq!(
        h.cli_err("show bridge-domain 9"),
        "show bridge-domain: No such bridge domain 9"
    );
    assert_eq!(
        h.cli_err("set bridge-domain learn 9"),
        "set bridge-domain learn: No such bridge domain 9"
    );
    assert_eq!(
        h.cli_err("set bridge-domain flood x"),
        "set bridge-domain flood: expecting bridge-domain id but got `x'"
    );
    assert_eq!(
        h.cli_err("set bridge-domain mac-age 7 300"),
        "set bridge-domain mac-age: mac aging time cannot be bigger than 255"
    );
    assert_eq!(
        h.cli_err("create bridge-domain 7"),
        "create bridge-domain: bridge domain 7 already exists"
    );
    assert_eq!(
        h.cli_err("create bridge-domain 0"),
        "create bridge-domain: bridge domain 0 can not be modified"
    );
    assert_eq!(
        h.cli_err("create bridge-domain"),
        "create bridge-domain: bridge-domain-id not specified"
    );
    assert_eq!(
        h.cli_err("create bridge-domain 8 mac-age 256"),
        "create bridge-domain: mac age must be less than 256"
    );
    assert_eq!(
        h.cli_err("create bridge-domain 16777216"),
        "create bridge-domain: bridge domain ID exceed 16M limit"
    );
    assert_eq!(
        h.cli_err("create bridge-domain 8 bogus 1"),
        "create bridge-domain: unknown input `bogus 1'"
    );
    assert_eq!(
        h.cli_err("create bridge-domain 7 del"),
        "create bridge-domain: bridge domain in use - remove members"
    );
    assert_eq!(
        h.cli_err("create bridge-domain 99 del"),
        "create bridge-domain: bridge domain ID does not exist"
    );
    assert_eq!(
        h.cli_err("set interface l2 bridge pg1 7 bvi"),
        "set interface l2 bridge: bridge-domain already has a bvi interface"
    );
    assert_eq!(
        h.cli_err("set interface l2 bridge pg9 7"),
        "set interface l2 bridge: unknown interface `pg9'"
    );
    assert_eq!(
        h.cli_err("set interface l2 bridge pg1 x"),
        "set interface l2 bridge: expected bridge domain ID `x'"
    );
    assert_eq!(
        h.cli_err("set interface l2 xconnect pg0 nope"),
        "set interface l2 xconnect: unknown peer interface `nope'"
    );
    // Setting flags and deleting.
    h.cli("set bridge-domain learn 7");
    h.cli("set bridge-domain uu-flood 7");
    h.cli("set bridge-domain mac-age 7 0");
    let row: Vec<String> = h
        .cli("show bridge-domain 7")
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(&row[3..7], ["off", "on", "on", "flood"]);
    h.cli("set interface l3 pg1");
    h.cli("create bridge-domain 3 del");
    assert!(!h
        .cli("show bridge-domain")
        .lines()
        .any(|l| l.trim_start().starts_with("3 ")));
    // Deleting the BVI loopback takes it out of the bridge.
    h.cli("delete loopback interface intfc loop0");
    let d = h.cli("show bridge-domain 7 detail");
    assert!(!d.contains("loop0"), "{d}");
    assert!(d.lines().nth(1).unwrap().trim_end().ends_with("N/A"), "{d}");
    assert!(
        !h.cli("show l2fib verbose").contains("de:ad:00:00:00:00"),
        "BVI entry gone"
    );
    h.assert_all_free();
}

#[test]
fn show_l2fib_summary_and_table() {
    let mut h = harness("", 3, &[]);
    assert_eq!(h.cli("show l2fib"), "no l2fib entries\n");
    assert_eq!(h.cli("show l2fib verbose"), "no l2fib entries\n");
    h.cli("set interface l2 bridge pg0 10");
    h.cli("set interface l2 bridge pg1 10");
    h.cli("set interface l2 bridge pg2 20");
    h.cli("set bridge-domain mac-age 20 3");
    h.cli(&format!("l2fib add {} 10 pg1 static", mac_str(mac(0x101))));
    h.cli(&format!("l2fib add {} 10 filter", mac_str(mac(0x102))));
    send(
        &mut h,
        "l",
        "pg0",
        "l2-input",
        &[frame(BCAST, mac(0x103), 0x0800, 0)],
    );
    send(
        &mut h,
        "m",
        "pg2",
        "l2-input",
        &[frame(BCAST, mac(0x104), 0x0800, 0)],
    );
    wait_fib(&mut h, Duration::from_secs(2), |s| {
        s.contains("entries: 4/2")
    })
    .expect("learned");
    let s = h.cli("show l2fib");
    assert!(
        s.starts_with("L2FIB total/learned entries: 4/2  Last scan time: ")
            && s.ends_with("sec  Learn limit: 16777216 \n"),
        "{s}"
    );
    assert_eq!(s.lines().count(), 1);
    let v = h.cli("show l2fib verbose");
    let vl: Vec<&str> = v.lines().collect();
    assert_eq!(
        vl[0],
        format!(
            "{}{}{}{}{}{}{}{}{}",
            center("Mac-Address", 19),
            center("BD-Idx", 7),
            center("If-Idx", 7),
            center("BSN-ISN", 8),
            center("Age(min)", 9),
            center("static", 7),
            center("filter", 7),
            center("bvi", 5),
            center("Interface-Name", 30)
        )
    );
    // Sorted by BD index, then MAC; the learned row in full.
    let learned = format!(
        "{}{}{}   0/1  {}{}{}{}{}",
        center(&mac_str(mac(0x103)), 19),
        center("1", 7),
        center("1", 7),
        center("-", 9),
        center("-", 7),
        center("-", 7),
        center("-", 5),
        center("pg0", 30)
    );
    assert_eq!(vl[3], learned);
    let w: Vec<Vec<&str>> = vl[1..5]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        w[0],
        [
            mac_str(mac(0x101)).as_str(),
            "1",
            "2",
            "0/1",
            "no",
            "*",
            "-",
            "-",
            "pg1"
        ]
    );
    assert_eq!(
        w[1],
        [
            mac_str(mac(0x102)).as_str(),
            "1",
            "-1",
            "0/0",
            "no",
            "*",
            "*",
            "-",
            "N/A"
        ]
    );
    // Age in minutes since learned: 0, or 1 if a minute boundary passed meanwhile.
    assert!(w[3][4] == "0" || w[3][4] == "1", "{v}");
    let mut w3 = w[3].clone();
    w3[4] = "0";
    assert_eq!(
        w3,
        [
            mac_str(mac(0x104)).as_str(),
            "2",
            "3",
            "0/1",
            "0",
            "-",
            "-",
            "-",
            "pg2"
        ]
    );
    assert!(vl[5].starts_with("L2FIB total/learned entries: 4/2"));
    // Filters.
    let b = h.cli("show l2fib bd_id 20");
    assert_eq!(b.lines().count(), 3, "{b}");
    assert!(b.contains(&mac_str(mac(0x104))));
    let l = h.cli("show l2fib learn");
    assert!(!l.contains(&mac_str(mac(0x101))) && l.contains(&mac_str(mac(0x103))));
    let a = h.cli("show l2fib add");
    assert!(a.contains(&mac_str(mac(0x101))) && !a.contains(&mac_str(mac(0x103))));
    assert_eq!(
        h.cli_err("show l2fib bd_id 5"),
        "show l2fib: bridge domain id 5 doesn't exist"
    );
    // add/del errors, del, clear.
    assert_eq!(
        h.cli_err("l2fib add zz 10 pg0"),
        "l2fib add: expected mac address `zz 10 pg0'"
    );
    assert_eq!(
        h.cli_err("l2fib add 02:00:00:00:00:01 77 pg0"),
        "l2fib add: bridge domain ID 77 invalid"
    );
    assert_eq!(
        h.cli_err("l2fib add 02:00:00:00:00:01 10 pg7"),
        "l2fib add: unknown interface `pg7'"
    );
    assert_eq!(
        h.cli_err("l2fib del 02:00:00:00:00:09 10"),
        "l2fib del: mac entry not found"
    );
    h.cli(&format!("l2fib del {} 10", mac_str(mac(0x103))));
    assert!(h.cli("show l2fib").contains("entries: 3/1"));
    h.cli("l2fib flush-mac bridge-domain 20");
    assert!(h.cli("show l2fib").contains("entries: 2/0"));
    let bsn = h.cli("show bridge-domain 20");
    assert_eq!(
        bsn.lines().nth(1).unwrap().split_whitespace().nth(2),
        Some("1"),
        "BSN bumps on flush"
    );
    h.cli("clear l2fib");
    assert_eq!(h.cli("show l2fib"), "no l2fib entries\n");
    h.assert_all_free();
}
