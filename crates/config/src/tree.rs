//! Lexer and parser: startup.conf text -> a tree of words and `{ }` blocks.
//!
//! The grammar is VPP's: a file is a sequence of items, an item is a word
//! optionally followed by a `{ ... }` block of nested items. Words are split
//! on whitespace, `{` and `}` (so `unix{nodaemon}` works), and `#` starts a
//! comment that runs to the end of the line wherever it appears, as VPP
//! strips it. There is no quoting: VPP has none in startup.conf either.

use crate::cursor::Cursor;
use crate::error::ConfigError;

/// Deepest `{ }` nesting accepted. VPP's own sections go two deep
/// (`node { default { variant x } }`); the bound keeps hostile input from
/// building a tree whose recursive drop could exhaust the stack.
pub const MAX_DEPTH: usize = 16;

/// A word with its 1-based position (column in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The word as written.
    pub text: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
}

impl Token {
    /// The word as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A `{ ... }` block; `line`/`col` locate its `{`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Line of the opening `{`.
    pub line: u32,
    /// Column of the opening `{`.
    pub col: u32,
    /// The items inside, in order.
    pub items: Vec<Item>,
}

/// A word, optionally followed by a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The word.
    pub word: Token,
    /// The `{ }` that directly follows the word, if any.
    pub block: Option<Block>,
}

/// A whole parsed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// File name used in every error.
    pub file: String,
    /// Top-level items (section names with their bodies).
    pub items: Vec<Item>,
}

/// One section's body: every occurrence of `name { ... }` in the file,
/// concatenated in file order (VPP appends the words of repeated sections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// File name used in errors.
    pub file: String,
    /// The section name at its first occurrence.
    pub name: Token,
    /// The body items of all occurrences, in order.
    pub items: Vec<Item>,
}

impl Section {
    /// A cursor over the body, for a typed parser.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor::new(&self.file, &self.items)
    }

    /// Every word of the body, nested blocks included, in file order.
    pub fn words(&self) -> Vec<&Token> {
        fn walk<'a>(items: &'a [Item], out: &mut Vec<&'a Token>) {
            for it in items {
                out.push(&it.word);
                if let Some(b) = &it.block {
                    // Depth is bounded by MAX_DEPTH, so recursion is safe.
                    walk(&b.items, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.items, &mut out);
        out
    }
}

impl Document {
    /// Groups top-level items into sections, merging repeated names.
    ///
    /// Every top-level item must have a block: `unix nodaemon` is an error
    /// (``expected `{' after section `unix'``) located at the name.
    pub fn sections(&self) -> Result<Vec<Section>, ConfigError> {
        let mut out: Vec<Section> = Vec::new();
        for it in &self.items {
            let Some(block) = &it.block else {
                return Err(ConfigError::at(
                    &self.file,
                    &it.word,
                    format!("expected `{{' after section `{}'", it.word.text),
                ));
            };
            match out.iter_mut().find(|s| s.name.text == it.word.text) {
                Some(s) => s.items.extend(block.items.iter().cloned()),
                None => out.push(Section {
                    file: self.file.clone(),
                    name: it.word.clone(),
                    items: block.items.clone(),
                }),
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Open,
    Close,
}

#[derive(Debug)]
struct Lexeme<'t> {
    kind: Kind,
    text: &'t str,
    line: u32,
    col: u32,
}

fn lex(text: &str) -> Vec<Lexeme<'_>> {
    // A UTF-8 byte-order mark is not whitespace for `char::is_whitespace`,
    // but editors on some systems write one; it is not part of the config.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let (mut line, mut col) = (1u32, 1u32);
    let mut word: Option<(usize, u32, u32)> = None;
    let mut in_comment = false;
    for (i, c) in text.char_indices() {
        let (l, cc) = (line, col);
        if c == '\n' {
            line = line.saturating_add(1);
            col = 1;
        } else {
            col = col.saturating_add(1);
        }
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        let delimiter = c.is_whitespace() || matches!(c, '{' | '}' | '#');
        if !delimiter {
            if word.is_none() {
                word = Some((i, l, cc));
            }
            continue;
        }
        if let Some((start, wl, wc)) = word.take() {
            out.push(Lexeme {
                kind: Kind::Word,
                text: &text[start..i],
                line: wl,
                col: wc,
            });
        }
        let kind = match c {
            '{' => Kind::Open,
            '}' => Kind::Close,
            '#' => {
                in_comment = true;
                continue;
            }
            _ => continue,
        };
        out.push(Lexeme {
            kind,
            text: &text[i..i + c.len_utf8()],
            line: l,
            col: cc,
        });
    }
    if let Some((start, wl, wc)) = word {
        out.push(Lexeme {
            kind: Kind::Word,
            text: &text[start..],
            line: wl,
            col: wc,
        });
    }
    out
}

/// An open block while parsing: its items so far and where its `{` was.
struct Frame {
    items: Vec<Item>,
    line: u32,
    col: u32,
}

/// Parses `text` into a tree. `file` names the source in errors.
///
/// Errors: ``unmatched `}'``, ``unclosed `{' after `<word>'``,
/// `` `{' with no word before it ``, and nesting deeper than [`MAX_DEPTH`].
pub fn parse_tree(file: &str, text: &str) -> Result<Document, ConfigError> {
    let err = |lx: &Lexeme<'_>, msg: String| ConfigError::new(file, lx.line, lx.col, msg);
    // Iterative (explicit stack) so nesting depth never costs call stack.
    let mut stack = vec![Frame {
        items: Vec::new(),
        line: 0,
        col: 0,
    }];
    let mut after_word = false;
    for lx in lex(text) {
        match lx.kind {
            Kind::Word => {
                if let Some(top) = stack.last_mut() {
                    top.items.push(Item {
                        word: Token {
                            text: lx.text.to_owned(),
                            line: lx.line,
                            col: lx.col,
                        },
                        block: None,
                    });
                }
                after_word = true;
            }
            Kind::Open => {
                if !after_word {
                    return Err(err(&lx, "`{' with no word before it".into()));
                }
                if stack.len() > MAX_DEPTH {
                    return Err(err(
                        &lx,
                        format!("`{{' nested too deeply (at most {MAX_DEPTH} levels)"),
                    ));
                }
                stack.push(Frame {
                    items: Vec::new(),
                    line: lx.line,
                    col: lx.col,
                });
                after_word = false;
            }
            Kind::Close => {
                // The root frame never closes.
                let frame = match stack.len() {
                    0 | 1 => None,
                    _ => stack.pop(),
                };
                let owner = frame.and_then(|f| {
                    let owner = stack.last_mut()?.items.last_mut()?;
                    owner.block = Some(Block {
                        line: f.line,
                        col: f.col,
                        items: f.items,
                    });
                    Some(())
                });
                if owner.is_none() {
                    return Err(err(&lx, "unmatched `}'".into()));
                }
                after_word = false;
            }
        }
    }
    if stack.len() > 1 {
        let open = stack.pop();
        let owner = stack
            .last()
            .and_then(|f| f.items.last())
            .map_or("", |it| it.word.text.as_str());
        let (line, col) = open.map_or((0, 0), |f| (f.line, f.col));
        return Err(ConfigError::new(
            file,
            line,
            col,
            format!("unclosed `{{' after `{owner}'"),
        ));
    }
    let items = stack.pop().map(|f| f.items).unwrap_or_default();
    Ok(Document {
        file: file.to_owned(),
        items,
    })
}
