//! VLAN sub-interface commands in VPP's syntax (vnet/ethernet/interface.c):
//!
//! - `create sub-interfaces <if> <id>` (one 802.1Q tag, VLAN id = sub id, exact match),
//!   `create sub-interfaces <if> <lo>-<hi>` (one of those per id),
//!   `create sub-interfaces <if> <id> default|untagged`,
//!   `create sub-interfaces <if> <id> dot1q|dot1ad <vlan> [inner-dot1q <vlan>|any] [exact-match]`.
//!   Each created interface's name is printed on a line of its own, `<if>.<id>`, admin down.
//!   An id the port already has with the same match is skipped silently (as VPP, so a script
//!   can run twice); with another match it is an error, as is a match another sub-interface of
//!   the port takes ("vlan is already in use", VPP's message). `dot1q|dot1ad any` (any outer
//!   VLAN) is refused: VPP does not implement it either.
//! - `delete sub-interface <if>.<id>`.
//!
//! The records and the match tables are vnet's (`pwire_vnet::interface`); deleting a port
//! deletes its sub-interfaces first.

use pwire_cli::{Args, CliError};
use pwire_vnet::interface::{SubMatch, N_VLAN};
use pwire_vnet::registry::cmd;
use pwire_vnet::{CliCtx, Registry};

pub(crate) fn register(r: &mut Registry) {
    r.command(cmd(
        "create sub-interfaces",
        "create sub-interfaces <interface> {<subId> [default|untagged]} | {<subId>-<subId>} | {<subId> dot1q|dot1ad <vlanId> [inner-dot1q <vlanId>|any] [exact-match]}",
        false,
        create,
    ));
    r.command(cmd(
        "delete sub-interface",
        "delete sub-interface <interface>",
        false,
        delete,
    ));
}

/// A VLAN id word (0-4095).
fn vlan(a: &mut Args<'_>) -> Result<u16, CliError> {
    let w = a.word("vlan id")?;
    w.parse::<u16>()
        .ok()
        .filter(|&v| usize::from(v) < N_VLAN)
        .ok_or_else(|| CliError::msg(format!("expected vlan id (0-4095), got `{w}'")))
}

/// A sub id word.
fn sub_id(w: &str) -> Result<u32, CliError> {
    if !w.bytes().all(|c| c.is_ascii_digit()) {
        return Err(CliError::msg(format!(
            "expected ID or ID MIN-MAX, got `{w}'"
        )));
    }
    w.parse()
        .map_err(|_| CliError::msg(format!("expected ID or ID MIN-MAX, got `{w}'")))
}

/// A one-tag id used as the VLAN id too (`<id>`, `<lo>-<hi>`).
fn id_as_vlan(id: u32) -> Result<u16, CliError> {
    u16::try_from(id)
        .ok()
        .filter(|&v| usize::from(v) < N_VLAN)
        .ok_or_else(|| {
            CliError::msg(format!(
                "sub id {id} is not a vlan id (0-4095): give the tag with dot1q <vlan>"
            ))
        })
}

/// `dot1q|dot1ad` followed by `<vlan> [inner-dot1q <vlan>|any] [exact-match]` (VPP's
/// `parse_vlan_sub_interfaces`): the match and exact-match.
fn vlan_match(a: &mut Args<'_>) -> Result<(SubMatch, bool), CliError> {
    if a.keyword("any") {
        return Err(CliError::msg(
            "outer vlan `any' is not supported (VPP does not implement it either)",
        ));
    }
    let outer = vlan(a)?;
    let m = if a.keyword("inner-dot1q") {
        let inner = if a.keyword("any") {
            None
        } else {
            Some(vlan(a)?)
        };
        SubMatch::Two { outer, inner }
    } else {
        SubMatch::One { outer }
    };
    let exact = a.keyword("exact-match");
    Ok((m, exact))
}

fn create(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let sup = cx.vnet.parse_if(&cx.ctl, a)?;
    let w = a.word("sub id")?;
    // (first id, last id, match of the first, 802.1ad, exact-match); a range makes one
    // single-tag sub-interface per id.
    let (lo, hi, m, dot1ad, exact) = if let Some((l, h)) = w.split_once('-') {
        let (lo, hi) = (sub_id(l)?, sub_id(h)?);
        if lo > hi {
            return Err(CliError::msg(format!(
                "expected ID or ID MIN-MAX, got `{w}'"
            )));
        }
        id_as_vlan(hi)?;
        let outer = id_as_vlan(lo)?;
        (lo, hi, SubMatch::One { outer }, false, true)
    } else {
        let id = sub_id(w)?;
        if a.keyword("default") {
            (id, id, SubMatch::Default, false, false)
        } else if a.keyword("untagged") {
            (id, id, SubMatch::Untagged, false, true)
        } else if a.keyword("dot1q") {
            let (m, exact) = vlan_match(a)?;
            (id, id, m, false, exact)
        } else if a.keyword("dot1ad") {
            let (m, exact) = vlan_match(a)?;
            (id, id, m, true, exact)
        } else if a.is_empty() {
            (
                id,
                id,
                SubMatch::One {
                    outer: id_as_vlan(id)?,
                },
                false,
                true,
            )
        } else {
            return Err(CliError::msg(format!(
                "expected default, untagged, dot1q or dot1ad, got `{}'",
                a.rest()
            )));
        }
    };
    a.expect_end()?;
    let mut out = String::new();
    for id in lo..=hi {
        let m = match m {
            // Only a range makes more than one; its VLAN id is the sub id (checked above).
            SubMatch::One { .. } if lo != hi => SubMatch::One { outer: id as u16 },
            m => m,
        };
        let name = format!("{}.{id}", cx.vnet.if_name(&cx.ctl, sup));
        let existing = {
            let vs = cx.vnet.state.get(&cx.ctl);
            vs.by_name(&name)
                .and_then(|sw| vs.get(sw))
                .map(|i| i.vlan.sub)
        };
        match existing {
            None => {}
            Some(Some(s)) if s.sup == sup && s.m == m && s.dot1ad == dot1ad && s.exact == exact => {
                continue;
            }
            Some(Some(s)) => {
                return Err(CliError::msg(format!(
                    "sub-interface {name} already exists ({})",
                    s.describe()
                )));
            }
            Some(None) => {
                return Err(CliError::msg(format!("interface {name} already exists")));
            }
        }
        cx.vnet
            .create_sub_interface(&mut cx.ctl, sup, id, m, dot1ad, exact)
            .map_err(CliError::msg)?;
        out.push_str(&name);
        out.push('\n');
    }
    if !out.is_empty() {
        a.output(&out);
    }
    Ok(())
}

fn delete(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let sw = cx.vnet.parse_if(&cx.ctl, a)?;
    a.expect_end()?;
    let is_sub = cx
        .vnet
        .state
        .get(&cx.ctl)
        .get(sw)
        .is_some_and(|i| i.vlan.sub.is_some());
    if !is_sub {
        return Err(CliError::msg(format!(
            "{} is not a sub-interface",
            cx.vnet.if_name(&cx.ctl, sw)
        )));
    }
    cx.vnet
        .delete_interface(&mut cx.ctl, sw)
        .map_err(CliError::msg)
}
