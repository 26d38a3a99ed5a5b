//! Aligned text tables for people (every command also has `--json` for machines).
//!
//! Cells usually hold stored names, so every cell goes through [`terminal::escape`] and columns
//! are measured in terminal cells ([`terminal::width`]): a wide character takes two.

use crate::terminal;

/// A table: a header row and rows of cells; numeric-looking columns align right.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header
                .iter()
                .map(|h| terminal::escape(h).into_owned())
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; the cells are escaped for the terminal here.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(
            cells
                .into_iter()
                .map(|c| match terminal::escape(&c) {
                    std::borrow::Cow::Borrowed(_) => c,
                    std::borrow::Cow::Owned(escaped) => escaped,
                })
                .collect(),
        );
    }

    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut width = vec![0; cols];
        let mut numeric = vec![true; cols];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate().take(cols) {
                width[i] = width[i].max(terminal::width(cell));
            }
        }
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(cols) {
                let looks_numeric = cell
                    .trim_start_matches(['$', '-'])
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit());
                numeric[i] &= looks_numeric || cell.is_empty() || cell == "-";
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let line: Vec<String> = (0..cols)
                .map(|i| {
                    let cell = row.get(i).map(String::as_str).unwrap_or("");
                    let pad = " ".repeat(width[i] - terminal::width(cell));
                    if numeric[i] && !std::ptr::eq(row, &self.header) {
                        format!("{pad}{cell}")
                    } else {
                        format!("{cell}{pad}")
                    }
                })
                .collect();
            out.push_str(line.join("  ").trim_end_matches(' '));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The terminal column at which each line's `n`-th cell starts: the cell's text is found in
    /// the line (after the cells before it) and the display width of what precedes it measured.
    fn start_columns(rendered: &str, cells: &[Vec<&str>], n: usize) -> Vec<usize> {
        rendered
            .lines()
            .zip(cells)
            .map(|(line, row)| {
                // Search after the previous cells so a repeated text is not found too early.
                let mut from = 0;
                for cell in &row[..n] {
                    from += line[from..].find(cell).unwrap() + cell.len();
                }
                let at = from + line[from..].find(row[n]).unwrap();
                terminal::width(&line[..at])
            })
            .collect()
    }

    #[test]
    fn wide_characters_keep_the_columns_aligned() {
        let cells: Vec<Vec<&str>> = vec![
            vec!["NAME", "STATUS", "COST"],
            vec!["plain", "running", "$0.1"],
            vec!["名前テスト", "completed", "$12.25"],
            vec!["🚀🚀 launch", "failed", "$3"],
            vec!["mixé 漢字 x", "running", "$100"],
            vec!["👩‍💻", "running", "$0"],
        ];
        let mut t = Table::new(&cells[0]);
        for row in &cells[1..] {
            t.row(row.iter().map(|c| c.to_string()).collect());
        }
        let out = t.render();
        let status = start_columns(&out, &cells, 1);
        // "名前テスト" is 10 columns wide but 5 characters: counted by characters the others
        // would be padded to 11 and "completed" would start 5 columns early.
        assert_eq!(status, vec![13; cells.len()], "\n{out}");
        // The numeric column is right-aligned: every row ends at the same column.
        let ends: Vec<usize> = out.lines().skip(1).map(terminal::width).collect();
        assert_eq!(
            ends,
            vec![13 + "completed".len() + 2 + "$12.25".len(); cells.len() - 1],
            "\n{out}"
        );
    }

    #[test]
    fn cells_are_escaped_and_measured_escaped() {
        let mut t = Table::new(&["NAME", "N"]);
        t.row(vec!["\x1b[31mred\x1b[0m".into(), "1".into()]);
        t.row(vec!["a\u{202e}b\x07\nc".into(), "22".into()]);
        t.row(vec!["ok".into(), "333".into()]);
        let out = t.render();
        assert!(
            !out.chars().any(|c| terminal::is_unsafe(c) && c != '\n'),
            "{out:?}"
        );
        assert_eq!(
            out.lines().count(),
            4,
            "a newline in a name must not start a row"
        );
        let lines: Vec<&str> = out.lines().collect();
        let red = r"\x1b[31mred\x1b[0m";
        let other = r"a\u{202e}b\x07\nc";
        assert_eq!(lines[1], format!("{red:<18}  {:>3}", 1));
        assert_eq!(lines[2], format!("{other:<18}  {:>3}", 22));
        assert_eq!(lines[3], format!("{:<18}  {:>3}", "ok", 333));
    }
}
