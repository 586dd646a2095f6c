//! The specification the suite checks, read from `spec/albany.md` at build
//! time: its version and its clauses.

use crate::case::Level;

/// The text of `spec/albany.md`.
pub const TEXT: &str = include_str!("../../spec/albany.md");

/// The specification version the suite checks (spec/README.md, "Version").
pub const VERSION: &str = "1.0-draft";

/// One clause of the specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// The id, such as `BODY-14`.
    pub id: String,
    /// The level as written: `MUST`, `MUST NOT`, `SHOULD`, `SHOULD NOT` or
    /// `MAY`.
    pub keyword: String,
    /// The clause's text on its first line, after the level.
    pub text: String,
}

impl Clause {
    /// The conformance level: `Some(Must)` for MUST and MUST NOT,
    /// `Some(Should)` for SHOULD and SHOULD NOT, `None` for MAY.
    pub fn level(&self) -> Option<Level> {
        match self.keyword.as_str() {
            "MUST" | "MUST NOT" => Some(Level::Must),
            "SHOULD" | "SHOULD NOT" => Some(Level::Should),
            _ => None,
        }
    }
}

/// Every clause of `text`, in order: each line that starts
/// `- **[ID-N]** (LEVEL)` (spec/README.md, "Clause ids").
pub fn clauses(text: &str) -> Vec<Clause> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("- **[")?;
            let (id, rest) = rest.split_once("]** (")?;
            let (keyword, text) = rest.split_once(')')?;
            let (prefix, number) = id.split_once('-')?;
            let valid = !prefix.is_empty()
                && prefix
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
                && matches!(
                    keyword,
                    "MUST" | "MUST NOT" | "SHOULD" | "SHOULD NOT" | "MAY"
                );
            valid.then(|| Clause {
                id: id.to_owned(),
                keyword: keyword.to_owned(),
                text: text.trim().to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_clauses_and_levels() {
        let text = "intro\n- **[BODY-14]** (MUST) A capacity of 0.\n- **[X-1]** (SHOULD NOT) y\n\
                    - **[bad-1]** (MUST) no\n- **[Y-2]** (MAY) z\n";
        let found = clauses(text);
        let ids: Vec<_> = found.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["BODY-14", "X-1", "Y-2"]);
        assert_eq!(found[0].level(), Some(Level::Must));
        assert_eq!(found[1].level(), Some(Level::Should));
        assert_eq!(found[2].level(), None);
    }
}
