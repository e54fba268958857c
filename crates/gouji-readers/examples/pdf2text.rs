//! Prints a PDF as the TAB text the table readers accept: `pdf2text FILE.pdf…`.

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("readable");
        match gouji_readers::pdf::read_pdf(&bytes, &gouji_readers::Limits::default()) {
            Ok(doc) => print!("{}", doc.render().text),
            Err(e) => eprintln!("{path}: {e}"),
        }
    }
}
