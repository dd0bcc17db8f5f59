//! Bridge-domain, interface-mode and L2 FIB commands in VPP's syntax and layout (vnet/l2
//! l2_bd.c, l2_input.c, l2_fib.c).
//!
//! Every command that changes state writes it with the workers parked (`Shared::write`), and
//! keeps vnet's `Interface::l2` (read by `ethernet-input`, `l2-input`, `l2-output` and `show
//! interface address`) in step with the bridge domains' member lists.
//!
//! What each does with the workers parked is O(its change), never O(table) (see `state`):
//! mode changes, flushes and `create bridge-domain .. del` bump sequence numbers and edit one
//! member list in place (stale MACs go with the sweep); `l2fib add|del` touch one entry, a
//! bigger table, when one is needed, being made before the barrier; `clear l2fib` swaps in an
//! empty table made before the barrier and frees the old one after it (VPP frees and remakes
//! its table with the workers parked) and zeroes the BDs' learn counts, O(bridge domains).
//! The `show` commands only read, with the workers running.

use crate::state::{feat, flags, key, key_bd, key_mac, minute, L2State, BD_ID_MAX};
use pwire_cli::{Args, CliError};
use pwire_graph::Shared;
use pwire_vnet::builtin_cli::center;
use pwire_vnet::registry::cmd;
use pwire_vnet::{CliCtx, L2Mode, Registry};
use pwire_wire::Mac;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

type L2 = Arc<Shared<L2State>>;

pub(crate) fn parse_end(a: &Args<'_>) -> Result<(), CliError> {
    a.expect_end()
}

/// `<what> but got `<rest>'`, VPP's message for a missing or bad number.
fn expecting(a: &Args<'_>, what: &str) -> CliError {
    CliError::msg(format!("expecting {what} but got `{}'", a.rest()))
}

/// The BD index of an existing, non-default `bd_id` (`set bridge-domain ...`, `show`).
fn existing_bd(st: &L2State, bd_id: u32) -> Result<u16, CliError> {
    if bd_id == 0 {
        return Err(CliError::msg(
            "No operations on the default bridge domain are supported",
        ));
    }
    st.bd_index(bd_id)
        .ok_or_else(|| CliError::msg(format!("No such bridge domain {bd_id}")))
}

/// Asks the aging scanner to re-read its settings now.
fn kick_ager(cx: &CliCtx) {
    let e = cx.vnet.engine();
    if let Some(i) = e.graph.node_index(crate::process::AGE_NODE) {
        e.threads[0].signals[i].store(true, Ordering::Release);
    }
}

/// Takes out of BD `idx` the members whose interface vnet no longer has in it (a crate that
/// changed an interface's mode behind the L2 state's back). Reads the BD's members only, and
/// with the workers running unless some are out of step.
fn prune_bd(cx: &mut CliCtx, l2: &L2, idx: u16) {
    let stale: Vec<u32> = {
        let vs = cx.vnet.state.get(&cx.ctl);
        let st = l2.get(&cx.ctl);
        st.bds.get(idx as usize).map_or_else(Vec::new, |bd| {
            bd.members
                .iter()
                .map(|m| m.sw_if_index)
                .filter(|&sw| {
                    !matches!(vs.get(sw).map(|i| i.l2),
                        Some(L2Mode::Bridge { bd_index, .. }) if bd_index == u32::from(idx))
                })
                .collect()
        })
    };
    if !stale.is_empty() {
        let st = l2.write(&mut cx.ctl);
        for sw in stale {
            st.leave(idx, sw);
        }
    }
}

/// Where [`set_mode`] puts a port.
#[derive(Debug, Clone, Copy)]
enum Mode {
    L3,
    Xconnect { peer: u32 },
    Bridge { bd_id: u32, bvi: bool, shg: u8 },
}

/// Puts `sw` in mode `new` (creating the BD if needed), leaving its bridge first (which
/// flushes the MACs learned on it). Under the barrier: O(1) (a bigger FIB for a BVI's entry,
/// if needed, is made before).
fn set_mode(cx: &mut CliCtx, l2: &L2, sw: u32, new: Mode) -> Result<(), CliError> {
    let (old, mac, ethernet) = {
        let vs = cx.vnet.state.get(&cx.ctl);
        let i = vs
            .get(sw)
            .ok_or_else(|| CliError::msg("invalid configuration for interface"))?;
        (i.l2, i.mac, cx.vnet.statics().class(i.class).ethernet)
    };
    let grown = match new {
        Mode::Bridge {
            bd_id, bvi: true, ..
        } => {
            let st = l2.get(&cx.ctl);
            let other_bvi = st
                .bd_index(bd_id)
                .is_some_and(|i| st.bds[i as usize].bvi.is_some_and(|b| b != sw));
            if other_bvi {
                return Err(CliError::msg("bridge-domain already has a bvi interface"));
            }
            st.grown_fib(1)
        }
        _ => None,
    };
    let st = l2.write(&mut cx.ctl);
    let old_fib = grown.map(|f| st.install_fib(f));
    let bd_index = match new {
        Mode::Bridge { bd_id, .. } => st.bd_find_or_add(bd_id).map_err(CliError::msg)?,
        _ => 0,
    };
    // Out of the BD the L2 state has the port in, and the one vnet says (the same, unless a
    // crate changed the mode behind the L2 state's back).
    let was = st.bd_of(sw);
    if was != 0 {
        st.leave(was, sw);
    }
    if let L2Mode::Bridge { bd_index: b, .. } = old {
        if b != u32::from(was) {
            st.leave(b as u16, sw);
        }
    }
    let new = match new {
        Mode::Bridge { bd_id, bvi, shg } => {
            st.join(bd_index, sw, shg, bvi, mac);
            L2Mode::Bridge {
                bd_id,
                bd_index: u32::from(bd_index),
                bvi,
                shg,
            }
        }
        Mode::Xconnect { peer } => L2Mode::Xconnect { peer },
        Mode::L3 => L2Mode::L3,
    };
    let vs = cx.vnet.state.write(&mut cx.ctl);
    if let Some(i) = vs.get_mut(sw) {
        i.l2 = new;
        // VPP turns promiscuous mode on for an Ethernet port's first L2 use.
        if ethernet {
            i.promisc = new != L2Mode::L3;
        }
    }
    // The old table is freed with the workers running.
    cx.ctl.release();
    drop(old_fib);
    Ok(())
}

pub(crate) fn register(r: &mut Registry, l2: L2) {
    let s = l2.clone();
    r.command(cmd(
        "set interface l2 bridge",
        "set interface l2 bridge <interface> <bridge-domain-id> [bvi] [shg <n> | <n>]",
        false,
        move |a, cx| {
            let sw = cx.vnet.parse_if(&cx.ctl, a)?;
            let bd_id = a
                .u32("bridge domain ID")
                .map_err(|_| CliError::msg(format!("expected bridge domain ID `{}'", a.rest())))?;
            if bd_id > BD_ID_MAX {
                return Err(CliError::msg("bridge domain ID exceed 16M limit"));
            }
            if bd_id == 0 {
                return Err(CliError::msg("bridge domain 0 can not be modified"));
            }
            let bvi = a.keyword("bvi");
            let _ = a.keyword("shg");
            let shg = if a.is_empty() {
                0
            } else {
                a.value::<u8>("shg")?
            };
            a.expect_end()?;
            set_mode(cx, &s, sw, Mode::Bridge { bd_id, bvi, shg })
        },
    ));
    let s = l2.clone();
    r.command(cmd(
        "set interface l2 xconnect",
        "set interface l2 xconnect <interface> <peer interface>",
        false,
        move |a, cx| {
            let sw = cx.vnet.parse_if(&cx.ctl, a)?;
            let peer = match a.next_word() {
                Some(w) => cx
                    .vnet
                    .if_by_name(&cx.ctl, w)
                    .ok_or_else(|| CliError::msg(format!("unknown peer interface `{w}'")))?,
                None => return Err(CliError::msg("unknown peer interface `'")),
            };
            a.expect_end()?;
            set_mode(cx, &s, sw, Mode::Xconnect { peer })
        },
    ));
    let s = l2.clone();
    r.command(cmd(
        "set interface l3",
        "set interface l3 <interface>",
        false,
        move |a, cx| {
            let sw = cx.vnet.parse_if(&cx.ctl, a)?;
            a.expect_end()?;
            set_mode(cx, &s, sw, Mode::L3)
        },
    ));
    r.command(cmd(
        "set interface l2 tag-rewrite",
        "set interface l2 tag-rewrite <interface> disable | pop {1|2} | push {dot1q|dot1ad} <tag> [<tag>] | translate {1-1|2-1} {dot1q|dot1ad} <tag> | translate {1-2|2-2} {dot1q|dot1ad} <tag> <tag>",
        false,
        set_tag_rewrite,
    ));
    r.command(cmd(
        "show mode",
        "show mode [<interface> ...]",
        true,
        |a, cx| {
            let mut only = Vec::new();
            while !a.is_empty() {
                only.push(cx.vnet.parse_if(&cx.ctl, a)?);
            }
            let vs = cx.vnet.state.get(&cx.ctl);
            let mut out = String::new();
            for i in vs.ifs.iter().filter(|i| !i.deleted) {
                if !only.is_empty() && !only.contains(&i.sw_if_index) {
                    continue;
                }
                let _ = match i.l2 {
                    L2Mode::Bridge {
                        bd_id, bvi, shg, ..
                    } => writeln!(
                        out,
                        "l2 bridge {} bd_id {bd_id}{}{shg}",
                        i.name,
                        if bvi { " bvi shg " } else { " shg " }
                    ),
                    L2Mode::Xconnect { peer } => {
                        let p = vs.ifs.get(peer as usize).map_or("?", |p| p.name.as_str());
                        writeln!(out, "l2 xconnect {} {p}", i.name)
                    }
                    L2Mode::L3 => writeln!(out, "l3 {} ", i.name),
                };
            }
            a.output(&out);
            Ok(())
        },
    ));
    register_bd(r, l2.clone());
    register_fib(r, l2);
}

/// `set interface l2 tag-rewrite` (VPP's l2_vtr.c `int_l2_vtr`): the operation is stored in
/// vnet (`VlanIf::vtr`), where `l2-input` (feature bit), `l2-input-vtr`, `l2-output` and the
/// pseudowire type of `show l2tpv3` read it.
fn set_tag_rewrite(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    use pwire_vnet::interface::{Vtr, VtrOp};
    let sw = cx.vnet.parse_if(&cx.ctl, a)?;
    let bad = |a: &Args<'_>| {
        CliError::msg(format!(
            "expecting disable | pop 1|2 | push dot1q|dot1ad <tag> [<tag>] | translate 1-1|1-2|2-1|2-2 dot1q|dot1ad <tag> [<tag>], got `{}'",
            a.rest()
        ))
    };
    // A VLAN id argument, 0..4095.
    let tag = |a: &mut Args<'_>| -> Result<u16, CliError> {
        let w = a.word("vlan id")?;
        w.parse::<u16>()
            .ok()
            .filter(|&v| usize::from(v) < pwire_vnet::interface::N_VLAN)
            .ok_or_else(|| CliError::msg(format!("vlan id `{w}' out of range (0-4095)")))
    };
    let (mut dot1q, mut t1, mut t2) = (true, 0u16, 0u16);
    let op = if a.keyword("disable") {
        VtrOp::Disabled
    } else if a.keyword("pop") {
        match a.next_word() {
            Some("1") => VtrOp::Pop1,
            Some("2") => VtrOp::Pop2,
            _ => return Err(bad(a)),
        }
    } else {
        let (one, two) = if a.keyword("push") {
            (VtrOp::Push1, Some(VtrOp::Push2))
        } else if a.keyword("translate") {
            match a.next_word() {
                Some("1-1") => (VtrOp::Translate11, None),
                Some("2-1") => (VtrOp::Translate21, None),
                Some("1-2") => (VtrOp::Translate12, Some(VtrOp::Translate12)),
                Some("2-2") => (VtrOp::Translate22, Some(VtrOp::Translate22)),
                _ => return Err(bad(a)),
            }
        } else {
            return Err(bad(a));
        };
        dot1q = if a.keyword("dot1q") {
            true
        } else if a.keyword("dot1ad") {
            false
        } else {
            return Err(bad(a));
        };
        t1 = tag(a)?;
        match two {
            // push: one or two tags; translate x-2: exactly two.
            Some(op2) if !a.is_empty() || one == op2 => {
                t2 = tag(a)?;
                op2
            }
            _ => one,
        }
    };
    a.expect_end()?;
    let vs = cx.vnet.state.get(&cx.ctl);
    let sub = vs.get(sw).and_then(|i| i.vlan.sub);
    let vtr = Vtr::new(op, dot1q, t1, t2, sub.as_ref()).map_err(CliError::msg)?;
    if let Some(i) = cx.vnet.state.write(&mut cx.ctl).get_mut(sw) {
        i.vlan.vtr = vtr;
    }
    Ok(())
}

fn register_bd(r: &mut Registry, l2: L2) {
    let s = l2.clone();
    r.command(cmd(
        "create bridge-domain",
        "create bridge-domain <bridge-domain-id> [learn <0|1>] [forward <0|1>] [uu-flood <0|1>] [flood <0|1>] [arp-term <0|1>] [arp-ufwd <0|1>] [mac-age <nn>] [bd-tag <tag>] [del]",
        false,
        move |a, cx| create_bd(a, cx, &s),
    ));
    for (word, bit) in [
        ("learn", feat::LEARN),
        ("forward", feat::FWD),
        ("flood", feat::FLOOD),
        ("uu-flood", feat::UU_FLOOD),
    ] {
        let s = l2.clone();
        let path: &'static str = match word {
            "learn" => "set bridge-domain learn",
            "forward" => "set bridge-domain forward",
            "flood" => "set bridge-domain flood",
            _ => "set bridge-domain uu-flood",
        };
        let help: &'static str = match word {
            "learn" => "set bridge-domain learn <bridge-domain-id> [disable]",
            "forward" => "set bridge-domain forward <bridge-domain-id> [disable]",
            "flood" => "set bridge-domain flood <bridge-domain-id> [disable]",
            _ => "set bridge-domain uu-flood <bridge-domain-id> [disable]",
        };
        r.command(cmd(path, help, false, move |a, cx| {
            let bd_id = a
                .u32("bridge-domain id")
                .map_err(|_| expecting(a, "bridge-domain id"))?;
            let idx = existing_bd(s.get(&cx.ctl), bd_id)?;
            let enable = !a.keyword("disable");
            a.expect_end()?;
            s.write(&mut cx.ctl).set_bd_features(idx, bit, enable);
            Ok(())
        }));
    }
    let s = l2.clone();
    r.command(cmd(
        "set bridge-domain mac-age",
        "set bridge-domain mac-age <bridge-domain-id> <mins>",
        false,
        move |a, cx| {
            let bd_id = a
                .u32("bridge-domain id")
                .map_err(|_| expecting(a, "bridge-domain id"))?;
            let idx = existing_bd(s.get(&cx.ctl), bd_id)?;
            let age = a
                .u32("age")
                .map_err(|_| expecting(a, "ageing time in minutes"))?;
            a.expect_end()?;
            let age = u8::try_from(age)
                .map_err(|_| CliError::msg("mac aging time cannot be bigger than 255"))?;
            s.write(&mut cx.ctl).bds[idx as usize].mac_age = age;
            kick_ager(cx);
            Ok(())
        },
    ));
    let s = l2.clone();
    r.command(cmd(
        "set bridge-domain learn-limit",
        "set bridge-domain learn-limit <bridge-domain-id> <learn-limit>",
        false,
        move |a, cx| {
            let bd_id = a
                .u32("bridge-domain id")
                .map_err(|_| expecting(a, "bridge-domain id"))?;
            let idx = existing_bd(s.get(&cx.ctl), bd_id)?;
            let n = a
                .u32("limit")
                .map_err(|_| expecting(a, "maximum number of learned entries"))?;
            a.expect_end()?;
            s.write(&mut cx.ctl).bds[idx as usize].learn_limit = n;
            Ok(())
        },
    ));
    let s = l2;
    r.command(cmd(
        "show bridge-domain",
        "show bridge-domain [bridge-domain-id [detail|int|arp|bd-tag]]",
        true,
        move |a, cx| show_bd(a, cx, &s),
    ));
}

fn create_bd(a: &mut Args<'_>, cx: &mut CliCtx, s: &L2) -> Result<(), CliError> {
    let bd_id = a
        .u32("bridge-domain-id")
        .map_err(|_| CliError::msg("bridge-domain-id not specified"))?;
    let (mut learn, mut fwd, mut flood, mut uu) = (true, true, true, true);
    let mut mac_age = 0u32;
    let mut tag = None;
    let mut del = false;
    while !a.is_empty() {
        let on = |a: &mut Args<'_>, w: &str| a.u32(w).map(|v| v != 0);
        if a.keyword("learn") {
            learn = on(a, "learn")?;
        } else if a.keyword("forward") {
            fwd = on(a, "forward")?;
        } else if a.keyword("flood") {
            flood = on(a, "flood")?;
        } else if a.keyword("uu-flood") {
            uu = on(a, "uu-flood")?;
        } else if a.keyword("arp-term") || a.keyword("arp-ufwd") {
            if on(a, "0|1")? {
                return Err(CliError::msg("ARP termination is not supported"));
            }
        } else if a.keyword("mac-age") {
            mac_age = a.u32("mac-age")?;
        } else if a.keyword("bd-tag") {
            tag = Some(a.word("bd-tag")?.to_string());
        } else if a.keyword("del") {
            del = true;
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    if bd_id == 0 {
        return Err(CliError::msg("bridge domain 0 can not be modified"));
    }
    let mac_age =
        u8::try_from(mac_age).map_err(|_| CliError::msg("mac age must be less than 256"))?;
    if tag.as_ref().is_some_and(|t| t.len() > 63) {
        return Err(CliError::msg("bd-tag cannot be longer than 63"));
    }
    let idx = s.get(&cx.ctl).bd_index(bd_id);
    if del {
        let idx = idx.ok_or_else(|| CliError::msg("bridge domain ID does not exist"))?;
        prune_bd(cx, s, idx);
        if !s.get(&cx.ctl).bds[idx as usize].members.is_empty() {
            return Err(CliError::msg("bridge domain in use - remove members"));
        }
        s.write(&mut cx.ctl).bd_del(idx);
        return Ok(());
    }
    if idx.is_some() {
        return Err(CliError::msg(format!(
            "bridge domain {bd_id} already exists"
        )));
    }
    if bd_id > BD_ID_MAX {
        return Err(CliError::msg("bridge domain ID exceed 16M limit"));
    }
    let st = s.write(&mut cx.ctl);
    let idx = st.bd_add(bd_id).map_err(CliError::msg)?;
    for (on, bit) in [
        (learn, feat::LEARN),
        (fwd, feat::FWD),
        (flood, feat::FLOOD),
        (uu, feat::UU_FLOOD),
    ] {
        st.set_bd_features(idx, bit, on);
    }
    let bd = &mut st.bds[idx as usize];
    bd.mac_age = mac_age;
    bd.tag = tag;
    if mac_age != 0 {
        kick_ager(cx);
    }
    a.output(&format!("bridge-domain {bd_id}"));
    Ok(())
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn show_bd(a: &mut Args<'_>, cx: &mut CliCtx, s: &L2) -> Result<(), CliError> {
    let mut only = None;
    let (mut detail, mut intf, mut show_tag) = (false, false, false);
    if let Ok(bd_id) = a.u32("bridge-domain id") {
        detail = a.keyword("detail") || a.keyword("det");
        intf = a.keyword("int");
        let _ = a.keyword("arp");
        show_tag = a.keyword("bd-tag");
        only = Some(existing_bd(s.get(&cx.ctl), bd_id)?);
    }
    a.expect_end()?;
    let vs = cx.vnet.state.get(&cx.ctl);
    let st = s.get(&cx.ctl);
    let name = |sw: u32| {
        vs.get(sw)
            .map_or_else(|| "Stale".to_string(), |i| i.name.clone())
    };
    let mut out = String::new();
    let mut printed = false;
    for (idx, bd) in st.bds.iter().enumerate().skip(1) {
        if !bd.in_use() || only.is_some_and(|o| o as usize != idx) {
            continue;
        }
        if !printed {
            printed = true;
            let h = [
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
                center("Learn-count", 8),
                center("Learn-limit", 8),
                center("BVI-Intf", 11),
            ];
            let _ = writeln!(out, "{}", h.join(" "));
        }
        let f = bd.features();
        let age = if bd.mac_age == 0 {
            "off".to_string()
        } else {
            bd.mac_age.to_string()
        };
        let row = [
            center(&bd.bd_id.to_string(), 8),
            center(&idx.to_string(), 7),
            center(&st.bsn(idx as u16).to_string(), 4),
            center(&age, 9),
            center(on_off(f & feat::LEARN != 0), 9),
            center(on_off(f & feat::FWD != 0), 9),
            center(
                if f & feat::UU_FLOOD != 0 {
                    "flood"
                } else {
                    "drop"
                },
                11,
            ),
            center(on_off(f & feat::FLOOD != 0), 9),
            center("off", 9),
            center("off", 9),
            center(&bd.learn_count.to_string(), 8),
            center(&bd.learn_limit.to_string(), 8),
            center(&bd.bvi.map_or_else(|| "N/A".to_string(), name), 11),
        ];
        let _ = writeln!(out, "{}", row.join(" "));
        if (detail || intf) && !bd.members.is_empty() {
            let _ = writeln!(
                out,
                "\n{}{}{}{}{}{}{}",
                center("Interface", 30),
                center("If-idx", 7),
                center("ISN", 5),
                center("SHG", 5),
                center("BVI", 5),
                center("TxFlood", 9),
                center("VLAN-Tag-Rewrite", 30)
            );
            for m in &bd.members {
                let _ = writeln!(
                    out,
                    "{}{}{}{}{}{}{}",
                    center(&name(m.sw_if_index), 30),
                    center(&m.sw_if_index.to_string(), 7),
                    center(&st.isn(m.sw_if_index).to_string(), 5),
                    center(&m.shg.to_string(), 5),
                    center(if m.bvi { "*" } else { "-" }, 5),
                    center("*", 9),
                    center(
                        &vs.get(m.sw_if_index)
                            .map_or_else(|| "none".to_string(), |i| i.vlan.vtr.to_string()),
                        30
                    )
                );
            }
        }
        if detail || show_tag {
            if let Some(t) = &bd.tag {
                let _ = writeln!(out, "\n  BD-Tag: {t}");
            }
        }
    }
    if !printed {
        out.push_str("no bridge-domains in use\n");
    }
    a.output(&out);
    Ok(())
}

/// `<mac> <bd-id>` of `l2fib add|del`: the key.
fn mac_and_bd(a: &mut Args<'_>, cx: &CliCtx, s: &L2) -> Result<([u8; 6], u16), CliError> {
    let mac = a
        .mac("mac address")
        .map_err(|_| CliError::msg(format!("expected mac address `{}'", a.rest())))?;
    let bd_id = a
        .u32("bridge domain ID")
        .map_err(|_| CliError::msg(format!("expected bridge domain ID `{}'", a.rest())))?;
    let idx = s
        .get(&cx.ctl)
        .bd_index(bd_id)
        .ok_or_else(|| CliError::msg(format!("bridge domain ID {bd_id} invalid")))?;
    Ok((mac, idx))
}

fn register_fib(r: &mut Registry, l2: L2) {
    let s = l2.clone();
    r.command(cmd(
        "l2fib add",
        "l2fib add <mac> <bridge-domain-id> filter | <intf> [static | bvi]",
        false,
        move |a, cx| {
            let (mac, idx) = mac_and_bd(a, cx, &s)?;
            let (sw, fl) = if a.keyword("filter") {
                (!0, flags::FILTER | flags::STATIC)
            } else {
                let sw = cx.vnet.parse_if(&cx.ctl, a)?;
                let fl = if a.keyword("static") {
                    flags::STATIC
                } else if a.keyword("bvi") {
                    flags::STATIC | flags::BVI
                } else {
                    0
                };
                (sw, fl)
            };
            a.expect_end()?;
            // A bigger table, if this entry needs one, is made with the workers running.
            let grown = s.get(&cx.ctl).grown_fib(1);
            let st = s.write(&mut cx.ctl);
            let old = grown.map(|f| st.install_fib(f));
            st.add_entry(key(&mac, idx), sw, fl);
            cx.ctl.release();
            drop(old);
            Ok(())
        },
    ));
    let s = l2.clone();
    r.command(cmd(
        "l2fib del",
        "l2fib del <mac> <bridge-domain-id>",
        false,
        move |a, cx| {
            let (mac, idx) = mac_and_bd(a, cx, &s)?;
            a.expect_end()?;
            let k = key(&mac, idx);
            let st = s.get(&cx.ctl);
            // A stale entry is not shown, so it is not found either (the sweep removes it).
            if !st.fib.get(&k).is_some_and(|e| st.present(k, e)) {
                return Err(CliError::msg("mac entry not found"));
            }
            s.write(&mut cx.ctl).del_entry(key(&mac, idx));
            Ok(())
        },
    ));
    let s = l2.clone();
    r.command(cmd("clear l2fib", "clear l2fib", false, move |a, cx| {
        a.expect_end()?;
        // VPP frees and remakes its bihash with the workers parked, O(table). Here an empty
        // table is made before, swapped in under the barrier (O(1), plus zeroing the BDs'
        // learn counts), and the old one freed after it.
        let fresh = s.get(&cx.ctl).empty_fib();
        let old = s.write(&mut cx.ctl).replace_fib(fresh);
        cx.ctl.release();
        drop(old);
        Ok(())
    }));
    let s = l2.clone();
    r.command(cmd(
        "l2fib flush-mac all",
        "l2fib flush-mac all",
        false,
        move |a, cx| {
            a.expect_end()?;
            s.write(&mut cx.ctl).flush_all();
            Ok(())
        },
    ));
    let s = l2.clone();
    r.command(cmd(
        "l2fib flush-mac interface",
        "l2fib flush-mac interface <if-name>",
        false,
        move |a, cx| {
            let sw = cx.vnet.parse_if(&cx.ctl, a)?;
            a.expect_end()?;
            s.write(&mut cx.ctl).flush_port(sw);
            Ok(())
        },
    ));
    let s = l2.clone();
    r.command(cmd(
        "l2fib flush-mac bridge-domain",
        "l2fib flush-mac bridge-domain <bd-id>",
        false,
        move |a, cx| {
            let bd_id = a
                .u32("bridge-domain id")
                .map_err(|_| expecting(a, "bridge-domain id"))?;
            a.expect_end()?;
            let idx = s
                .get(&cx.ctl)
                .bd_index(bd_id)
                .ok_or_else(|| CliError::msg(format!("No such bridge domain {bd_id}")))?;
            s.write(&mut cx.ctl).flush_bd(idx);
            Ok(())
        },
    ));
    let s = l2.clone();
    r.command(cmd(
        "set l2fib learn-limit",
        "set l2fib learn-limit <n> (pwire: the global limit, VPP's `l2learn { limit <n> }`)",
        false,
        move |a, cx| {
            let n = a
                .u32("limit")
                .map_err(|_| expecting(a, "maximum number of learned entries"))?;
            a.expect_end()?;
            s.write(&mut cx.ctl).global_learn_limit = n;
            Ok(())
        },
    ));
    let s = l2.clone();
    r.command(cmd(
        "set l2fib age-scan-interval",
        "set l2fib age-scan-interval <seconds> [minute <seconds>] (pwire: aging clock, for tests)",
        false,
        move |a, cx| {
            let scan = a.duration_secs("seconds")?.as_secs_f64();
            let unit = if a.keyword("minute") {
                Some(a.duration_secs("minute")?.as_secs_f64())
            } else {
                None
            };
            a.expect_end()?;
            if scan < 0.001 || unit.is_some_and(|u| u < 0.001) {
                return Err(CliError::msg("intervals must be at least 1 ms"));
            }
            let st = s.write(&mut cx.ctl);
            st.age.scan_interval = scan;
            if let Some(u) = unit {
                st.age.minute = u;
            }
            kick_ager(cx);
            Ok(())
        },
    ));
    let s = l2;
    r.command(cmd(
        "show l2fib",
        "show l2fib [all|verbose] [bd_id <nn> | bd_index <nn>] [learn | add]",
        true,
        move |a, cx| show_fib(a, cx, &s),
    ));
}

fn show_fib(a: &mut Args<'_>, cx: &mut CliCtx, s: &L2) -> Result<(), CliError> {
    let (mut verbose, mut learn, mut add) = (false, false, false);
    let mut only: Option<u16> = None;
    while !a.is_empty() {
        if a.keyword("verbose") || a.keyword("all") {
            verbose = true;
        } else if a.keyword("raw") {
            verbose = false;
        } else if a.keyword("bd_index") {
            only = Some(a.value("bd_index")?);
            verbose = true;
        } else if a.keyword("bd_id") {
            let id = a.u32("bd_id")?;
            let idx = s
                .get(&cx.ctl)
                .bd_index(id)
                .ok_or_else(|| CliError::msg(format!("bridge domain id {id} doesn't exist")))?;
            only = Some(idx);
            verbose = true;
        } else if a.keyword("learn") {
            (learn, add, verbose) = (true, false, true);
        } else if a.keyword("add") {
            (learn, add, verbose) = (false, true, true);
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    let vs = cx.vnet.state.get(&cx.ctl);
    let st = s.get(&cx.ctl);
    let now = minute(cx.vnet.engine().now(), st.age.minute);
    let mut out = String::new();
    // Stale and dead entries (flushed lazily, see `state`) are left out. With none pending
    // (no sequence number bumped since the last sweep) every entry is shown and counted.
    let pending = st.sweep_wanted();
    let mut keys: Vec<u64> = Vec::new();
    let (total, learned) = if verbose || pending {
        keys = st
            .fib
            .iter()
            .filter(|(&k, e)| st.present(k, e))
            .map(|(&k, _)| k)
            .collect();
        let learned = keys.iter().filter(|&k| st.fib[k].learned()).count();
        (keys.len(), learned)
    } else {
        (st.fib.len(), st.global_learn_count as usize)
    };
    if verbose && total > 0 {
        let _ = writeln!(
            out,
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
        );
        // VPP walks its hash table; sorted output is easier to read and to compare.
        keys.sort_unstable_by_key(|&k| (key_bd(k), k & 0xffff_ffff_ffff));
        for k in keys {
            let e = &st.fib[&k];
            let bd = key_bd(k);
            if only.is_some_and(|o| o != bd) || (learn && !e.learned()) || (add && e.learned()) {
                continue;
            }
            let age = if !e.learned() {
                "no".to_string()
            } else if st.bds.get(bd as usize).is_none_or(|b| b.mac_age == 0) {
                "-".to_string()
            } else {
                now.wrapping_sub(e.ts.load(Ordering::Relaxed)).to_string()
            };
            let star = |f: u8| if e.flags & f != 0 { "*" } else { "-" };
            let ifname = if e.sw_if_index == !0 {
                "N/A".to_string()
            } else {
                vs.get(e.sw_if_index)
                    .map_or_else(|| "Stale".to_string(), |i| i.name.clone())
            };
            let sw = if e.sw_if_index == !0 {
                "-1".to_string()
            } else {
                e.sw_if_index.to_string()
            };
            let _ = writeln!(
                out,
                "{}{}{} {:>3}/{:<3}{}{}{}{}{}",
                center(&Mac(key_mac(k)).to_string(), 19),
                center(&bd.to_string(), 7),
                center(&sw, 7),
                e.sn >> 8,
                e.sn & 0xff,
                center(&age, 9),
                center(star(flags::STATIC), 7),
                center(star(flags::FILTER), 7),
                center(star(flags::BVI), 5),
                center(&ifname, 30)
            );
        }
    }
    if total == 0 {
        out.push_str("no l2fib entries\n");
    } else {
        let _ = writeln!(
            out,
            "L2FIB total/learned entries: {}/{}  Last scan time: {:.4e}sec  Learn limit: {} ",
            total,
            learned,
            st.last_scan(),
            st.global_learn_limit
        );
    }
    a.output(&out);
    Ok(())
}
