//! Commands and the word trie that dispatches a typed line to one of them.

use core::fmt;
use core::ops::Bound;
use std::collections::BTreeMap;

use crate::{Args, CliError};

/// A handler: parses its arguments from `Args`, acts on the context, writes output into `Args`.
pub type Handler<C> = Box<dyn Fn(&mut Args<'_>, &mut C) -> Result<(), CliError> + Send + Sync>;

/// One CLI command (VPP `VLIB_CLI_COMMAND`).
pub struct Command<C> {
    /// Full words separated by single spaces, e.g. `create l2tpv3 tunnel`.
    pub path: &'static str,
    /// VPP form: `cmd <required> [optional]`.
    pub short_help: &'static str,
    /// False: [`Registry::execute`] parks the workers (the hook set with
    /// [`Registry::set_barrier`]) before the handler runs (VPP `is_mp_safe`).
    pub mp_safe: bool,
    /// The handler.
    pub handler: Handler<C>,
}

impl<C> Command<C> {
    /// Builds a command, boxing the handler.
    pub fn new(
        path: &'static str,
        short_help: &'static str,
        mp_safe: bool,
        handler: impl Fn(&mut Args<'_>, &mut C) -> Result<(), CliError> + Send + Sync + 'static,
    ) -> Self {
        Command {
            path,
            short_help,
            mp_safe,
            handler: Box::new(handler),
        }
    }

    /// Runs the handler, appends its output to `out` (ending with a newline) and prefixes an
    /// error with this command's path. Output written before a failure is kept.
    pub fn invoke(
        &self,
        args: &mut Args<'_>,
        ctx: &mut C,
        out: &mut String,
    ) -> Result<(), CliError> {
        let result = (self.handler)(args, ctx);
        out.push_str(&args.take_output());
        result.map_err(|e| e.with_path(self.path))
    }
}

impl<C> fmt::Debug for Command<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("path", &self.path)
            .field("short_help", &self.short_help)
            .field("mp_safe", &self.mp_safe)
            .finish_non_exhaustive()
    }
}

/// A trie node: one word of one or more command paths.
#[derive(Debug)]
struct Node {
    /// The canonical path down to this node ("" at the root).
    path: String,
    /// Next words, sorted so candidate lists and help are deterministic.
    children: BTreeMap<&'static str, usize>,
    /// Index into `Registry::commands` when a command ends here.
    cmd: Option<usize>,
}

const ROOT: usize = 0;

/// Where a walk down the trie stopped.
struct Walk {
    /// Deepest node reached.
    node: usize,
    /// Index of the first word not consumed.
    next: usize,
    /// Deepest node passed that holds a command: (node, command, index of the next word).
    last_cmd: Option<(usize, usize, usize)>,
}

/// All commands, dispatched by a word trie with VPP's unique-prefix matching.
///
/// - Words match by unique prefix (`sh int`); when several sub-commands start with what was
///   typed, one whose full word equals it wins; otherwise the error is
///   ``ambiguous command `<word>': <candidates>``.
/// - A node may be both a command and the prefix of longer ones (`show interface` and
///   `show interface address`): the longest matching path wins, the other words are arguments.
/// - `help [prefix]` and a trailing `?` (`show ?`) are built in and list commands.
pub struct Registry<C> {
    nodes: Vec<Node>,
    commands: Vec<Command<C>>,
    help_cmd: usize,
    exec_cmd: usize,
    /// Stands in for the empty line so `resolve` always yields a command.
    empty: Command<C>,
    /// Parks the workers before a command that is not mp-safe (see [`Registry::set_barrier`]).
    barrier: Option<fn(&mut C)>,
}

impl<C> Default for Registry<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C> fmt::Debug for Registry<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("commands", &self.commands)
            .finish_non_exhaustive()
    }
}

/// Splits into words with their byte spans (whitespace as in `Args`).
fn tokens(line: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, line.len()));
    }
    out
}

/// How many `exec` files may run inside each other.
pub const MAX_EXEC_DEPTH: u32 = 8;

/// One help line: path padded to 40 columns, then the short help.
fn help_line(out: &mut String, name: &str, short_help: &str) {
    use fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = if short_help.is_empty() {
        writeln!(out, "  {name}")
    } else {
        writeln!(out, "  {name:<40} {short_help}")
    };
}

impl<C> Registry<C> {
    /// An empty registry with the built-in `help` command.
    pub fn new() -> Self {
        let mut r = Registry {
            nodes: vec![Node {
                path: String::new(),
                children: BTreeMap::new(),
                cmd: None,
            }],
            commands: Vec::new(),
            help_cmd: 0,
            exec_cmd: 0,
            empty: Command::new("", "", true, |_, _| Ok(())),
            barrier: None,
        };
        // The handler is a no-op: `resolve` renders the help text into the `Args` output,
        // because a handler cannot reach the registry that owns it.
        r.add(Command::new(
            "help",
            "help [<command prefix>] (or <command prefix> ?)",
            true,
            |_, _| Ok(()),
        ));
        r.help_cmd = 0;
        // `exec <file>` runs a script through this registry, so it is built in as well.
        r.add(Command::new("exec", "exec <filename>", true, |_, _| Ok(())));
        r.exec_cmd = 1;
        r
    }

    /// Registers a command.
    ///
    /// # Panics
    /// On an empty or non-canonical path (words must be separated by single spaces, no `?`)
    /// or a path registered twice: both are programming errors caught at startup.
    pub fn add(&mut self, cmd: Command<C>) {
        let words: Vec<&'static str> = cmd.path.split_whitespace().collect();
        assert!(
            !words.is_empty() && words.join(" ") == cmd.path && !cmd.path.contains('?'),
            "CLI command path {:?} is not canonical (single spaces, no `?')",
            cmd.path
        );
        let mut node = ROOT;
        for w in words {
            node = match self.nodes[node].children.get(w) {
                Some(&n) => n,
                None => {
                    let parent = &self.nodes[node].path;
                    let path = if parent.is_empty() {
                        w.to_owned()
                    } else {
                        format!("{parent} {w}")
                    };
                    self.nodes.push(Node {
                        path,
                        children: BTreeMap::new(),
                        cmd: None,
                    });
                    let n = self.nodes.len() - 1;
                    self.nodes[node].children.insert(w, n);
                    n
                }
            };
        }
        assert!(
            self.nodes[node].cmd.is_none(),
            "CLI command {:?} registered twice",
            cmd.path
        );
        self.nodes[node].cmd = Some(self.commands.len());
        self.commands.push(cmd);
    }

    /// Sets what [`Registry::execute`] calls before running a command that is not mp-safe: it
    /// must park the workers, as VPP wraps such handlers in
    /// `vlib_worker_thread_barrier_sync/release`. Releasing is the context's business (a
    /// dataplane releases when the command's control context ends), so that a script whose
    /// lines all change state parks the workers once, not once per line. Without a hook (a
    /// context with no workers) `mp_safe` changes nothing.
    pub fn set_barrier(&mut self, sync: fn(&mut C)) {
        self.barrier = Some(sync);
    }

    /// All registered commands (including `help`), in registration order.
    pub fn commands(&self) -> impl Iterator<Item = &Command<C>> {
        self.commands.iter()
    }

    /// The command registered at exactly this canonical path.
    pub fn get(&self, path: &str) -> Option<&Command<C>> {
        let mut node = ROOT;
        for w in path.split_whitespace() {
            node = *self.nodes[node].children.get(w)?;
        }
        self.nodes[node].cmd.map(|i| &self.commands[i])
    }

    /// The child of `node` that `word` selects: `Ok(None)` when nothing starts with it.
    fn child(&self, node: usize, word: &str) -> Result<Option<usize>, CliError> {
        let children = &self.nodes[node].children;
        if let Some(&n) = children.get(word) {
            return Ok(Some(n));
        }
        // `str` bounds: a `&str` range would force `word` to be 'static like the keys.
        let matches: Vec<(&&'static str, &usize)> = children
            .range::<str, _>((Bound::Included(word), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(word))
            .collect();
        match matches.as_slice() {
            [] => Ok(None),
            [(_, &n)] => Ok(Some(n)),
            many => {
                let names: Vec<&str> = many.iter().map(|(k, _)| **k).collect();
                Err(CliError::msg(format!(
                    "ambiguous command `{word}': {}",
                    names.join(", ")
                )))
            }
        }
    }

    /// Walks words down the trie as far as they match.
    fn walk(&self, line: &str, toks: &[(usize, usize)]) -> Result<Walk, CliError> {
        let mut w = Walk {
            node: ROOT,
            next: 0,
            last_cmd: None,
        };
        while let Some(&(s, e)) = toks.get(w.next) {
            let Some(child) = self.child(w.node, &line[s..e])? else {
                break;
            };
            w.node = child;
            w.next += 1;
            if let Some(c) = self.nodes[child].cmd {
                w.last_cmd = Some((child, c, w.next));
            }
        }
        Ok(w)
    }

    /// The error for a walk that ended at a node with no command on or above it.
    fn unknown(&self, line: &str, toks: &[(usize, usize)], walk: &Walk) -> CliError {
        let rest = toks.get(walk.next).map_or("", |&(s, _)| line[s..].trim());
        let node = &self.nodes[walk.node];
        if rest.is_empty() {
            // The line stopped at a prefix such as `show`.
            let path = &node.path;
            CliError::msg(format!("incomplete command; try `{path} ?'")).with_path(path)
        } else {
            CliError::unknown_input(rest).with_path(&node.path)
        }
    }

    /// Finds the command for `line` without running it, so the caller can decide between a
    /// barrier and an mp-safe run. The returned `Args` starts at the first argument word.
    ///
    /// The empty line resolves to a no-op command (empty path, mp-safe). `help ...` and a line
    /// ending in `?` resolve to the mp-safe `help` command whose output is already rendered.
    pub fn resolve<'l>(&self, line: &'l str) -> Result<(&Command<C>, Args<'l>), CliError> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Ok((&self.empty, Args::at(line, line.len())));
        }
        if let Some(prefix) = trimmed.strip_suffix('?') {
            return self.help_resolved(line, prefix);
        }
        let toks = tokens(line);
        let walk = self.walk(line, &toks)?;
        // Stopped below the deepest command: that command gets the rest as arguments.
        let Some((_, cmd, next)) = walk.last_cmd else {
            return Err(self.unknown(line, &toks, &walk));
        };
        if cmd == self.help_cmd {
            let prefix = toks.get(next).map_or("", |&(s, _)| &line[s..]);
            return self.help_resolved(line, prefix);
        }
        let start = toks.get(next).map_or(line.len(), |&(s, _)| s);
        Ok((&self.commands[cmd], Args::at(line, start)))
    }

    fn help_resolved<'l>(
        &self,
        line: &'l str,
        prefix: &str,
    ) -> Result<(&Command<C>, Args<'l>), CliError> {
        let text = self.try_help(prefix)?;
        let mut args = Args::at(line, line.len());
        args.set_output(text);
        Ok((&self.commands[self.help_cmd], args))
    }

    /// Resolves and runs one line; output goes to `out`, the error (already prefixed with its
    /// command path) is returned and not written to `out`.
    pub fn execute(&self, line: &str, ctx: &mut C, out: &mut String) -> Result<(), CliError> {
        let (cmd, mut args) = self.resolve(line)?;
        if std::ptr::eq(cmd, &self.commands[self.exec_cmd]) {
            return self
                .exec_file(&mut args, ctx, out)
                .map_err(|e| e.with_path("exec"));
        }
        if !cmd.mp_safe {
            if let Some(sync) = self.barrier {
                sync(ctx);
            }
        }
        cmd.invoke(&mut args, ctx, out)
    }

    /// `exec <file>`: runs the file's lines as a script (VPP's `exec`), at most
    /// [`MAX_EXEC_DEPTH`] files deep so a script that runs itself stops with an error.
    fn exec_file(
        &self,
        args: &mut Args<'_>,
        ctx: &mut C,
        out: &mut String,
    ) -> Result<(), CliError> {
        use std::cell::Cell;
        thread_local! { static DEPTH: Cell<u32> = const { Cell::new(0) }; }
        let file = args.word("filename")?.to_string();
        args.expect_end()?;
        if DEPTH.get() >= MAX_EXEC_DEPTH {
            return Err(CliError::msg(format!(
                "`{file}': exec nested more than {MAX_EXEC_DEPTH} deep"
            )));
        }
        let text = crate::script::read_text_file(&file)
            .map_err(|e| CliError::msg(format!("failed to open `{file}': {e}")))?;
        DEPTH.set(DEPTH.get() + 1);
        let r = self.run_script(&text, &file, ctx, out);
        DEPTH.set(DEPTH.get() - 1);
        r.map_err(|e| CliError::msg(e.to_string()))
    }

    /// Runs a server request on the calling thread and answers it (through
    /// [`Registry::execute`], so with the barrier hook if one is set).
    pub fn serve(&self, req: crate::Request, ctx: &mut C) {
        let mut out = String::new();
        let result = self.execute(&req.line, ctx, &mut out);
        req.respond(crate::Reply::from_result(out, result));
    }

    /// Help text for a command prefix (`""` lists the top-level words); an unknown prefix gives
    /// the error text.
    pub fn help(&self, prefix: &str) -> String {
        self.try_help(prefix).unwrap_or_else(|e| format!("{e}\n"))
    }

    fn try_help(&self, prefix: &str) -> Result<String, CliError> {
        let toks = tokens(prefix);
        let walk = self.walk(prefix, &toks)?;
        // Words past a command are its arguments (`show interface pg0 ?`); past a pure prefix
        // they are unknown.
        let node = match walk.last_cmd {
            _ if walk.next == toks.len() => walk.node,
            Some((node, _, _)) => node,
            None => return Err(self.unknown(prefix, &toks, &walk)),
        };
        let mut out = String::new();
        if node == ROOT {
            for (word, &n) in &self.nodes[ROOT].children {
                let short = self.nodes[n]
                    .cmd
                    .map_or("", |c| self.commands[c].short_help);
                help_line(&mut out, word, short);
            }
        } else {
            let mut stack = vec![node];
            while let Some(n) = stack.pop() {
                if let Some(c) = self.nodes[n].cmd {
                    help_line(&mut out, &self.nodes[n].path, self.commands[c].short_help);
                }
                // Reverse so the pop order is alphabetical (pre-order).
                stack.extend(self.nodes[n].children.values().rev());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records which command ran and with what arguments.
    fn reg() -> Registry<Vec<String>> {
        let mut r = Registry::new();
        for path in [
            "show interface",
            "show interface address",
            "show ip6 fib",
            "show l2fib",
            "show l2tpv3",
            "show version",
            "set interface state",
            "set interface ip address",
            "set interface ip6 l2tpv3",
            "create l2tpv3 tunnel",
            "test lt2p counters",
            "trace add",
            "trace",
        ] {
            r.add(Command::new(
                path,
                "",
                false,
                move |a, log: &mut Vec<String>| {
                    log.push(format!("{path}|{}", a.rest()));
                    Ok(())
                },
            ));
        }
        r
    }

    fn run(r: &Registry<Vec<String>>, line: &str) -> Result<String, String> {
        let mut log = Vec::new();
        let mut out = String::new();
        r.execute(line, &mut log, &mut out)
            .map_err(|e| e.to_string())?;
        Ok(log.pop().unwrap_or_default())
    }

    #[test]
    fn unique_prefixes() {
        let r = reg();
        assert_eq!(run(&r, "sh int").unwrap(), "show interface|");
        assert_eq!(run(&r, "show interface").unwrap(), "show interface|");
        assert_eq!(run(&r, "sh ver").unwrap(), "show version|");
        assert_eq!(
            run(&r, "set int st pg0 up").unwrap(),
            "set interface state|pg0 up"
        );
        assert_eq!(
            run(&r, "set int ip addr pg0 2001::1/64").unwrap(),
            "set interface ip address|pg0 2001::1/64"
        );
        assert_eq!(
            run(&r, "  cr   l2tpv3 tun  client ::1  ").unwrap(),
            "create l2tpv3 tunnel|client ::1"
        );
        assert_eq!(run(&r, "sh ip6 fib").unwrap(), "show ip6 fib|");
        assert_eq!(
            run(&r, "test lt2p counters").unwrap(),
            "test lt2p counters|"
        );
    }

    #[test]
    fn command_and_prefix_of_longer_commands() {
        let r = reg();
        assert_eq!(run(&r, "sh int addr").unwrap(), "show interface address|");
        assert_eq!(
            run(&r, "show interface address pg0").unwrap(),
            "show interface address|pg0"
        );
        assert_eq!(run(&r, "sh int pg0").unwrap(), "show interface|pg0");
        assert_eq!(
            run(&r, "sh int pg0 addr").unwrap(),
            "show interface|pg0 addr"
        );
        assert_eq!(run(&r, "trace").unwrap(), "trace|");
        assert_eq!(
            run(&r, "trace add pg-input 10").unwrap(),
            "trace add|pg-input 10"
        );
        assert_eq!(
            run(&r, "tr a pg-input 10").unwrap(),
            "trace add|pg-input 10"
        );
        assert_eq!(run(&r, "trace x").unwrap(), "trace|x");
    }

    #[test]
    fn ambiguity() {
        let r = reg();
        // `s` is set or show; `show l2` is l2fib or l2tpv3.
        assert_eq!(
            run(&r, "s int").unwrap_err(),
            "ambiguous command `s': set, show"
        );
        assert_eq!(
            run(&r, "sh l2").unwrap_err(),
            "ambiguous command `l2': l2fib, l2tpv3"
        );
        assert_eq!(
            run(&r, "sh i").unwrap_err(),
            "ambiguous command `i': interface, ip6"
        );
        // A full word wins over the longer candidates: `ip` is `ip` even though `ip6` exists.
        assert_eq!(
            run(&r, "set int ip pg0").unwrap_err(),
            "set interface ip: unknown input `pg0'"
        );
        assert_eq!(
            run(&r, "set int ip6 l2 pg0").unwrap(),
            "set interface ip6 l2tpv3|pg0"
        );
        assert_eq!(
            run(&r, "set int ip a pg0").unwrap(),
            "set interface ip address|pg0"
        );
    }

    #[test]
    fn exact_word_wins_over_longer() {
        let mut r: Registry<()> = Registry::new();
        r.add(Command::new("show ip", "", true, |a, _| {
            a.output("ip");
            Ok(())
        }));
        r.add(Command::new("show ip6", "", true, |a, _| {
            a.output("ip6");
            Ok(())
        }));
        let mut out = String::new();
        r.execute("sh ip", &mut (), &mut out).unwrap();
        r.execute("sh ip6", &mut (), &mut out).unwrap();
        assert_eq!(out, "ip\nip6\n");
        assert_eq!(
            r.execute("sh i", &mut (), &mut out)
                .unwrap_err()
                .to_string(),
            "ambiguous command `i': ip, ip6"
        );
    }

    #[test]
    fn unknown_input_errors() {
        let r = reg();
        assert_eq!(run(&r, "foo bar").unwrap_err(), "unknown input `foo bar'");
        assert_eq!(
            run(&r, "show  foo  bar ").unwrap_err(),
            "show: unknown input `foo  bar'"
        );
        assert_eq!(
            run(&r, "sh ip6 x").unwrap_err(),
            "show ip6: unknown input `x'"
        );
        assert_eq!(
            run(&r, "show").unwrap_err(),
            "show: incomplete command; try `show ?'"
        );
        // Case-sensitive, like VPP.
        assert_eq!(run(&r, "SHOW int").unwrap_err(), "unknown input `SHOW int'");
    }

    #[test]
    fn handler_errors_get_the_path_and_output_is_kept() {
        let mut r: Registry<()> = Registry::new();
        r.add(Command::new(
            "create l2tpv3 tunnel",
            "create l2tpv3 tunnel client <ip6> our <ip6>",
            false,
            |a, _| {
                a.output("partial");
                Err(CliError::msg("our address not specified"))
            },
        ));
        r.add(Command::new("show version", "", true, |a, _| {
            a.expect_end()?;
            use fmt::Write as _;
            write!(a, "pwire v0.1")?;
            Ok(())
        }));
        let mut out = String::new();
        let e = r.execute("cre l2 tun", &mut (), &mut out).unwrap_err();
        assert_eq!(
            e.to_string(),
            "create l2tpv3 tunnel: our address not specified"
        );
        assert_eq!(e.path(), "create l2tpv3 tunnel");
        assert_eq!(out, "partial\n");
        out.clear();
        let e = r.execute("sh ver extra", &mut (), &mut out).unwrap_err();
        assert_eq!(e.to_string(), "show version: unknown input `extra'");
        r.execute("sh ver", &mut (), &mut out).unwrap();
        assert_eq!(out, "pwire v0.1\n", "one newline added");
    }

    #[test]
    fn resolve_reports_mp_safe_and_args() {
        let mut r: Registry<()> = Registry::new();
        r.add(Command::new("show runtime", "", true, |_, _| Ok(())));
        r.add(Command::new(
            "set interface state",
            "",
            false,
            |_, _| Ok(()),
        ));
        let (c, a) = r.resolve("sh run").unwrap();
        assert!(c.mp_safe);
        assert_eq!(c.path, "show runtime");
        assert!(a.is_empty());
        let (c, mut a) = r.resolve("set int state pg0 up").unwrap();
        assert!(!c.mp_safe);
        assert_eq!(a.next_word(), Some("pg0"));
        let (c, a) = r.resolve("   ").unwrap();
        assert_eq!(c.path, "");
        assert!(c.mp_safe && a.is_empty());
        let mut out = String::new();
        r.execute("", &mut (), &mut out).unwrap();
        assert_eq!(out, "");
        assert!(r.get("show runtime").is_some());
        assert!(r.get("show run").is_none());
        assert_eq!(
            r.commands().count(),
            4,
            "two commands plus the built-in help and exec"
        );
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn duplicate_path_panics() {
        let mut r: Registry<()> = Registry::new();
        r.add(Command::new("show version", "", true, |_, _| Ok(())));
        r.add(Command::new("show version", "", true, |_, _| Ok(())));
    }

    #[test]
    #[should_panic(expected = "not canonical")]
    fn bad_path_panics() {
        let mut r: Registry<()> = Registry::new();
        r.add(Command::new("show  version", "", true, |_, _| Ok(())));
    }

    #[test]
    fn help_and_question_mark() {
        let mut r: Registry<()> = Registry::new();
        r.add(Command::new(
            "show interface",
            "show interface [<if>]",
            true,
            |_, _| Ok(()),
        ));
        r.add(Command::new(
            "show interface address",
            "show interface address [<if>]",
            true,
            |_, _| Ok(()),
        ));
        r.add(Command::new(
            "show version",
            "show version",
            true,
            |_, _| Ok(()),
        ));
        r.add(Command::new("clear trace", "clear trace", false, |_, _| {
            Ok(())
        }));

        let top = r.help("");
        assert_eq!(
            top,
            format!(
                "  clear\n  {:<40} {}\n  {:<40} {}\n  show\n",
                "exec",
                "exec <filename>",
                "help",
                "help [<command prefix>] (or <command prefix> ?)"
            )
        );
        let show = format!(
            "  {:<40} show interface [<if>]\n  {:<40} show interface address [<if>]\n  {:<40} show version\n",
            "show interface", "show interface address", "show version"
        );
        assert_eq!(r.help("sh"), show);

        let exec = |line: &str| {
            let mut out = String::new();
            let (c, mut a) = r.resolve(line).map_err(|e| e.to_string())?;
            assert!(c.mp_safe, "help is mp-safe");
            c.invoke(&mut a, &mut (), &mut out)
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(out)
        };
        assert_eq!(exec("help").unwrap(), top);
        assert_eq!(exec("?").unwrap(), top);
        assert_eq!(exec("help show").unwrap(), show);
        assert_eq!(exec("he sh").unwrap(), show);
        assert_eq!(exec("show ?").unwrap(), show);
        assert_eq!(exec("sh?").unwrap(), show);
        assert!(exec("show int ?").unwrap().starts_with("  show interface "));
        assert_eq!(exec("show int pg0 ?").unwrap(), exec("show int ?").unwrap());
        assert_eq!(exec("show foo ?").unwrap_err(), "show: unknown input `foo'");
        assert_eq!(exec("help foo").unwrap_err(), "unknown input `foo'");
        assert_eq!(r.help("foo"), "unknown input `foo'\n");
    }

    /// Records the barrier hook's calls next to the handlers' runs.
    #[derive(Default)]
    struct Parking {
        parked: bool,
        log: Vec<String>,
    }

    #[test]
    fn commands_not_mp_safe_run_with_the_barrier_hook_called_first() {
        let mut r: Registry<Parking> = Registry::new();
        for (path, mp_safe) in [("set thing", false), ("show thing", true)] {
            r.add(Command::new(
                path,
                "",
                mp_safe,
                move |a, p: &mut Parking| {
                    p.log.push(format!("{path} parked={}", p.parked));
                    a.expect_end()
                },
            ));
        }
        let mut p = Parking::default();
        let mut out = String::new();
        // No hook: nothing parks (a context without workers).
        r.execute("set thing", &mut p, &mut out).unwrap();
        r.set_barrier(|p| {
            p.parked = true;
            p.log.push("sync".into());
        });
        r.execute("show thing", &mut p, &mut out).unwrap();
        r.execute("set thing", &mut p, &mut out).unwrap();
        p.parked = false;
        // The barrier is taken before the handler parses (VPP does the same), so a failing
        // command still ran under it.
        assert!(r.execute("set thing extra", &mut p, &mut out).is_err());
        // help, exec's own parsing and the empty line are mp-safe.
        r.execute("help", &mut p, &mut out).unwrap();
        r.execute("", &mut p, &mut out).unwrap();
        assert_eq!(
            p.log,
            [
                "set thing parked=false",
                "show thing parked=false",
                "sync",
                "set thing parked=true",
                "sync",
                "set thing parked=true",
            ]
        );
    }
}
