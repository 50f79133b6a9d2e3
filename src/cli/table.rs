//! Aligned columns for listing commands, with optional colour per cell.

use anstyle::Style;

use super::style::paint;

/// One cell: its text and the style it gets when colour is on. Widths are measured on the
/// text alone, so colour never shifts a column.
#[derive(Debug, Clone)]
pub struct Cell {
    text: String,
    style: Style,
}

impl Cell {
    pub fn styled(text: impl Into<String>, style: Style) -> Self {
        Self { text: text.into(), style }
    }
}

impl<T: Into<String>> From<T> for Cell {
    fn from(text: T) -> Self {
        Self::styled(text, Style::new())
    }
}

/// A table with a header row. Columns are separated by two spaces; right-aligned columns suit
/// numbers. The last column is not padded, so no line ends in spaces.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// `columns`: each header with whether it is right-aligned.
    pub fn new(columns: &[(&'static str, bool)]) -> Self {
        Self {
            headers: columns.iter().map(|c| c.0).collect(),
            right: columns.iter().map(|c| c.1).collect(),
            rows: vec![],
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    pub fn render(&self, colour: bool) -> String {
        let width = |text: &str| text.chars().count();
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                let cells = self.rows.iter().filter_map(|r| r.get(i)).map(|c| width(&c.text));
                cells.chain([width(self.headers[i])]).max().unwrap_or(0)
            })
            .collect();
        let header: Vec<Cell> = self.headers.iter().map(|h| Cell::from(*h)).collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let last = i + 1 == row.len();
                let pad = " ".repeat(widths[i].saturating_sub(width(&cell.text)));
                let text = paint(&cell.text, cell.style, colour);
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right[i] {
                    line.push_str(&pad);
                    line.push_str(&text);
                } else {
                    line.push_str(&text);
                    if !last {
                        line.push_str(&pad);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::style::GREEN;

    #[test]
    fn columns_align_on_the_text_and_colour_does_not_shift_them() {
        let mut t = Table::new(&[("TENANT", false), ("PHASE", false), ("CPU %", true)]);
        t.row(vec!["acme".into(), Cell::styled("Running", GREEN), "1.50".into()]);
        t.row(vec!["a-longer-name".into(), "Pending".into(), "12.00".into()]);
        let plain = t.render(false);
        assert_eq!(
            plain,
            "TENANT         PHASE    CPU %\nacme           Running   1.50\na-longer-name  Pending  12.00\n"
        );
        let coloured = t.render(true);
        assert!(coloured.contains("\u{1b}[32mRunning\u{1b}[0m   1.50"), "{coloured:?}");
        let stripped = coloured.replace("\u{1b}[32m", "").replace("\u{1b}[0m", "");
        assert_eq!(stripped, plain);
    }
}
