//! Every format variation of `shared/spec/formats.md` has a fixture (tests/fixtures/formats/,
//! see its README) that parses to exactly the expected cells.

use std::path::Path;

fn cells(text: &[u8]) -> String {
    let r = gouji_domain::parse_document(text).expect("fixture parses");
    r.facts
        .iter()
        .map(|f| {
            format!(
                "{}\t{}\t{}\t{}\t{}\n",
                f.table,
                f.row,
                f.column,
                f.value,
                f.unit.label()
            )
        })
        .collect()
}

#[test]
fn every_format_fixture_parses_to_its_expected_cells() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    assert!(names.len() >= 17, "fixtures missing");
    let mut failures = Vec::new();
    for txt in &names {
        let expected = std::fs::read_to_string(txt.with_extension("cells.tsv")).unwrap();
        let got = cells(&std::fs::read(txt).unwrap());
        if got != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{got}",
                txt.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}
