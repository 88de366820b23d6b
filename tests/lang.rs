//! The language snapshot suite: every `tests/lang/**/*.bt` is parsed, checked and compiled;
//! the AST (or diagnostic, with any warnings) and the unoptimised LLVM IR are snapshotted and
//! reviewed. A first line can ask for options (`pipeline::options_for`): `// --unsafe`,
//! `// --portable` (an artifact, CO-RE field reads), `// --host init|ns [-p]`.

use spyglass::stdlib::STDLIB;
use spyglass::{codegen, parser, sema};

fn render(path: &std::path::Path, src: &str) -> (String, Option<String>) {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let ast = match parser::parse(src, &STDLIB) {
        Ok(a) => a,
        Err(d) => return (d.render(&name, src), None),
    };
    let ast_text = format!("{ast:#?}");
    let opts = spyglass::pipeline::options_for(src);
    let checked = match sema::check(ast, opts, &STDLIB) {
        Ok(c) => c,
        Err(d) => return (d.render(&name, src), None),
    };
    // Warnings follow the tree they are about.
    let ast_text = checked
        .warnings
        .iter()
        .fold(ast_text, |t, w| t + "\n\n" + &w.render(&name, src));
    match codegen::compile(&checked, &STDLIB, true) {
        Ok(out) => (ast_text, out.ir.map(|ir| ir.original)),
        Err(d) => (d.render(&name, src), None),
    }
}

#[test]
fn lang() {
    insta::glob!("lang/**/*.bt", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        let (front, ir) = render(path, &src);
        insta::assert_snapshot!("front", front);
        if let Some(ir) = ir {
            insta::assert_snapshot!("ir", ir);
        }
    });
}
