//! What a scenario measured on one server: its figures, and its targets
//! with pass or fail.

/// One figure: a name (a column of the report) and its value, formatted.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    /// The column's name.
    pub(crate) name: String,
    /// The value, with its unit.
    pub(crate) value: String,
}

/// One target, checked.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    /// What the target says, e.g. "0 lost responses".
    pub(crate) target: String,
    /// A hard target (crash, lost response, panic not answered 500): a
    /// failure on an Albany server makes the run fail.
    pub(crate) hard: bool,
    /// Pass, fail, or `None`: not checked in this run (a quick run shorter
    /// than the timeout it would check).
    pub(crate) pass: Option<bool>,
    /// The figure the verdict rests on.
    pub(crate) value: String,
}

/// A scenario's result on one server.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    /// The figures, in column order.
    pub(crate) figures: Vec<Figure>,
    /// The targets.
    pub(crate) checks: Vec<Check>,
}

impl Outcome {
    /// Adds a figure.
    pub(crate) fn figure(&mut self, name: &str, value: impl ToString) {
        self.figures.push(Figure {
            name: name.to_owned(),
            value: value.to_string(),
        });
    }

    /// Adds a soft target.
    pub(crate) fn soft(&mut self, target: &str, pass: Option<bool>, value: impl ToString) {
        self.checks.push(Check {
            target: target.to_owned(),
            hard: false,
            pass,
            value: value.to_string(),
        });
    }

    /// Adds a hard target.
    pub(crate) fn hard(&mut self, target: &str, pass: bool, value: impl ToString) {
        self.checks.push(Check {
            target: target.to_owned(),
            hard: true,
            pass: Some(pass),
            value: value.to_string(),
        });
    }
}

/// A duration in seconds, one decimal.
pub(crate) fn secs(d: std::time::Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// A duration in milliseconds, two decimals.
pub(crate) fn ms(d: std::time::Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// KiB as MiB, one decimal.
pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
