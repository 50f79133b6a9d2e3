//! The sections of a man page that clap cannot derive from the command line (exit status,
//! environment, files, examples, see also), as data, and their roff.

use clap_mangen::roff::{bold, roman, Roff};

/// One section of a page: a title and what it holds, in order.
pub struct Section {
    pub title: &'static str,
    pub blocks: Vec<Block>,
}

/// A piece of a section.
pub enum Block {
    /// A paragraph.
    Para(&'static str),
    /// A term (in bold) and what it means, indented below it: an exit status, a variable, a path.
    Item(&'static str, &'static str),
    /// What an example does, then the command lines, verbatim.
    Example(&'static str, &'static str),
    /// Other pages, as `name(section)`, in one comma-separated line.
    Pages(&'static [&'static str]),
}

impl Section {
    pub fn new(title: &'static str, blocks: Vec<Block>) -> Self {
        Self { title, blocks }
    }
}

/// Appends `sections` to `roff`.
pub fn render(sections: &[Section], roff: &mut Roff) {
    for section in sections {
        roff.control("SH", [section.title]);
        for block in &section.blocks {
            render_block(block, roff);
        }
    }
}

fn render_block(block: &Block, roff: &mut Roff) {
    match block {
        Block::Para(text) => {
            roff.control("PP", []).text([roman(*text)]);
        }
        Block::Item(term, text) => {
            roff.control("TP", []).text([bold(*term)]).text([roman(*text)]);
        }
        Block::Example(what, lines) => {
            roff.control("PP", []).text([roman(*what)]);
            // Verbatim and indented; each line stays a line.
            roff.control("RS", ["4"]).control("nf", []);
            for line in lines.lines() {
                roff.text([roman(line)]);
            }
            roff.control("fi", []).control("RE", []);
        }
        Block::Pages(pages) => {
            roff.control("PP", []);
            let mut inlines = Vec::new();
            for (i, page) in pages.iter().enumerate() {
                let (name, section) = page.split_once('(').unwrap_or((page, ""));
                if i > 0 {
                    inlines.push(roman(", "));
                }
                inlines.push(bold(name));
                inlines.push(roman(format!("({section}")));
            }
            roff.text(inlines);
        }
    }
}
