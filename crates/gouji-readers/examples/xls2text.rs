//! Prints a workbook as the TAB text the table readers accept: `xls2text FILE.xlsx|FILE.xls`.

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("readable");
        let format = if path.ends_with(".xls") {
            gouji_domain::document::Format::Xls
        } else {
            gouji_domain::document::Format::Xlsx
        };
        match gouji_readers::excel::read_workbook(&bytes, format, &gouji_readers::Limits::default())
        {
            Ok(doc) => print!("{}", doc.render().text),
            Err(e) => eprintln!("{path}: {e}"),
        }
    }
}
