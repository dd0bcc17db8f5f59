//! Seeded schedules of loss, duplication and reordering between two cores that both initiate
//! (so ties happen too): after the bad period and a quiet one, both ends agree on one
//! established connection and on every pseudowire's session ids and cookies.

mod common;

use common::*;
use pwire_l2tp_control::*;

fn one(seed: u64, auth: bool) -> Result<(), String> {
    let mut s = Sim::new(seed);
    let mut r = SeededRandom::new(seed.wrapping_mul(0x9e37_79b9));
    s.link = LinkModel {
        loss: r.below(400),
        dup: r.below(150),
        latency: 5 * MS + r.below(50 * MS),
        jitter: r.below(2 * SEC),
    };
    let cfg = |i| {
        let mut c = ConnConfig {
            hello_interval: 15 * SEC,
            ..conn_config(i)
        };
        if auth {
            c.digest = Some(if seed & 1 == 0 {
                DigestAlg::Md5
            } else {
                DigestAlg::Sha1
            });
            c.secret = Secret::new("lossy");
        }
        c
    };
    let ca = s.conn(A, cfg(A));
    let cb = s.conn(B, cfg(B));
    let n = 1 + r.below(8) as u32;
    let mut pairs = vec![];
    for vc in 0..n {
        let pa = s.pw_with(
            A,
            PwConfig {
                cookie_size: [0, 4, 8][(vc % 3) as usize],
                ..pw_config(ca, vc)
            },
        );
        let pb = s.pw(B, cb, vc);
        pairs.push((pa, pb));
    }
    // Bad period, with the attachment circuits flapping on the way.
    let bad = 20 * SEC + r.below(120 * SEC);
    s.run_for(bad / 3);
    s.cmd(
        A,
        Command::SetCircuit {
            pw: pairs[0].0,
            up: false,
        },
    );
    match r.below(6) {
        0 => {
            s.cmd(B, Command::ClearConnection(cb));
        }
        1 => {
            // The last pseudowire is deleted and configured again on one side.
            let (pa, pb) = pairs.pop().unwrap();
            let vc = pairs.len() as u32;
            if r.below(2) == 0 {
                s.cmd(A, Command::DeletePseudowire(pa));
                s.run_for(r.below(5 * SEC));
                pairs.push((s.pw(A, ca, vc), pb));
            } else {
                s.cmd(B, Command::DeletePseudowire(pb));
                s.run_for(r.below(5 * SEC));
                pairs.push((pa, s.pw(B, cb, vc)));
            }
        }
        2 => {
            // A partition long enough for both ends to declare the other dead.
            let link = s.link;
            s.link.loss = 1000;
            s.run_for(150 * SEC);
            s.link = link;
        }
        3 => {
            // A restarts with the same configuration (its sessions vanish with it).
            s.nodes[A].core = Core::new(core_config(A), SeededRandom::new(seed ^ 0xa));
            s.nodes[A].installed.clear();
            s.nodes[A].link.clear();
            s.nodes[A].peer_active.clear();
            assert_eq!(s.conn(A, cfg(A)), ca);
            for (vc, (pa, _)) in pairs.iter_mut().enumerate() {
                *pa = s.pw_with(
                    A,
                    PwConfig {
                        cookie_size: [0, 4, 8][vc % 3],
                        ..pw_config(ca, vc as u32)
                    },
                );
            }
            s.cmd(
                A,
                Command::SetCircuit {
                    pw: pairs[0].0,
                    up: false,
                },
            );
        }
        _ => {}
    }
    s.run_for(bad / 3);
    s.cmd(
        A,
        Command::SetCircuit {
            pw: pairs[0].0,
            up: true,
        },
    );
    s.run_for(bad / 3);
    // Quiet period: a clean link. Reconnects (10 s), pw retries (10 s) and a dead-peer probe
    // (about a minute) all fit.
    s.link = LinkModel {
        latency: 10 * MS,
        ..LinkModel::default()
    };
    let ok = s.run_until(600 * SEC, |s| {
        conns_consistent(s, ca, cb)
            && pws_consistent(s, &pairs)
            && s.nodes[B].peer_active.get(&pairs[0].1) == Some(&true)
    });
    if !ok {
        return Err(format!(
            "seed {seed} link {:?}: A {} / B {}\nA log {:#?}\nB log {:#?}",
            LinkModel { ..s.link },
            s.info(A, ca),
            s.info(B, cb),
            s.nodes[A].logs(),
            s.nodes[B].logs()
        ));
    }
    // And it stays that way.
    s.run_for(120 * SEC);
    if !(conns_consistent(&s, ca, cb) && pws_consistent(&s, &pairs)) {
        return Err(format!("seed {seed}: did not stay up"));
    }
    Ok(())
}

#[test]
fn lossy_links_converge() {
    let seeds = if cfg!(debug_assertions) {
        10_000
    } else {
        50_000
    };
    let mut failures = vec![];
    for seed in 0..seeds {
        if let Err(e) = one(seed, seed % 3 == 0) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {seeds} failed; first:\n{}",
        failures.len(),
        failures[0]
    );
}
