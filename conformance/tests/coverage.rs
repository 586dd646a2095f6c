//! Every MUST clause of spec/albany.md is cited by a case of the server
//! suite, enforced by a validator rule, or listed with a reason in
//! `coverage::NOT_BY_CASES`; every clause id a case cites exists.

use std::collections::{BTreeSet, HashMap};

use albany_conformance::coverage::NOT_BY_CASES;
use albany_conformance::validate::Rule;
use albany_conformance::{cases, spec, Level};

#[test]
fn every_cited_clause_exists() {
    let clauses: BTreeSet<String> = spec::clauses(spec::TEXT)
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(
        clauses.len() > 150,
        "only {} clauses found in spec/albany.md",
        clauses.len()
    );
    for case in cases::all() {
        assert!(!case.clauses.is_empty(), "{} cites no clause", case.id);
        for id in case.clauses {
            assert!(
                clauses.contains(*id),
                "{} cites {id}, which spec/albany.md does not define",
                case.id
            );
        }
    }
}

#[test]
fn every_must_clause_is_covered() {
    let clauses = spec::clauses(spec::TEXT);
    let cited: BTreeSet<&str> = cases::all()
        .iter()
        .flat_map(|case| case.clauses.iter().copied())
        .collect();
    let rules: BTreeSet<&str> = Rule::ALL.iter().map(|rule| rule.id()).collect();
    let waived: HashMap<&str, &str> = NOT_BY_CASES.iter().copied().collect();
    let mut uncovered = Vec::new();
    for clause in clauses.iter().filter(|c| c.level() == Some(Level::Must)) {
        let id = clause.id.as_str();
        let covered = cited.contains(id)
            || rules.contains(id)
            || (id == "VAL-11") // how violations are reported: tests/validate.rs, tests/validate_log.rs
            || waived.get(id).is_some_and(|reason| !reason.is_empty());
        if !covered {
            uncovered.push(format!("{id}: {}", clause.text));
        }
    }
    assert!(
        uncovered.is_empty(),
        "MUST clauses with no case, rule or reason:\n{}",
        uncovered.join("\n")
    );
}

#[test]
fn reasons_name_existing_must_clauses_only() {
    let clauses = spec::clauses(spec::TEXT);
    let cited: BTreeSet<&str> = cases::all()
        .iter()
        .flat_map(|case| case.clauses.iter().copied())
        .collect();
    for (id, _) in NOT_BY_CASES {
        let clause = clauses
            .iter()
            .find(|c| c.id == *id)
            .unwrap_or_else(|| panic!("{id} is not in the spec"));
        assert_eq!(
            clause.level(),
            Some(Level::Must),
            "{id} is listed but is not a MUST clause"
        );
        assert!(
            !cited.contains(id),
            "{id} is listed with a reason but a case cites it: remove it from the list"
        );
    }
}

#[test]
fn validator_rules_match_the_spec() {
    let clauses: BTreeSet<String> = spec::clauses(spec::TEXT)
        .into_iter()
        .map(|c| c.id)
        .filter(|id| id.starts_with("VAL-") && id != "VAL-11")
        .collect();
    let rules: BTreeSet<String> = Rule::ALL.iter().map(|rule| rule.id().to_owned()).collect();
    assert_eq!(rules, clauses);
}

#[test]
fn case_ids_are_unique_and_grouped() {
    let all = cases::all();
    assert!(all.len() >= 90, "{} cases", all.len());
    let mut ids = BTreeSet::new();
    for case in &all {
        assert!(ids.insert(case.id), "duplicate case id {}", case.id);
        let _ = case.group();
        assert!(!case.title.is_empty(), "{} has no title", case.id);
    }
}
