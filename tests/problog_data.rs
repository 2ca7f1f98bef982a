//! Data from outside the model, as ProbLog's `library(db)` loads it: a CSV
//! file's rows and an SQLite database's tables become facts, read from the
//! model's folder; a missing file, a short row or a value of the wrong type
//! is an error that names the file and the row.

use std::path::{Path, PathBuf};

use deeplog::{Model, QueryOptions};

/// A fresh folder for one test's files.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deeplog-data-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn answers(dir: &Path, source: &str) -> Result<Vec<(String, f64)>, String> {
    let path = dir.join("model.pl");
    std::fs::write(&path, source).unwrap();
    let model = Model::from_file(&path).map_err(|e| e.to_string())?;
    let answers = model.query(&QueryOptions::default()).map_err(|e| e.to_string())?;
    Ok(answers.answers.into_iter().map(|a| (a.query, a.value)).collect())
}

#[test]
fn a_csv_file_is_one_fact_per_row() {
    let dir = folder("csv");
    std::fs::write(dir.join("edges.csv"), "from,to,p\na,b,0.5\nb,c,0.25\n\na,c,1.0\n").unwrap();
    // The probabilities come from the data: flexible probabilities.
    let got = answers(
        &dir,
        ":- use_module(library(db)).\n:- csv_load('edges.csv', edge_data).\n\
         P::edge(X, Y) :- edge_data(X, Y, P).\n\
         path(X, Y) :- edge(X, Y).\npath(X, Y) :- edge(X, Z), path(Z, Y).\n\
         query(path(a, c)).\nquery(edge_data(_, _, _)).\n",
    )
    .unwrap();
    assert_eq!(got[0].0, "path(a,c)");
    assert!((got[0].1 - 1.0).abs() < 1e-12, "{got:?}");
    let rows: Vec<&str> = got[1..].iter().map(|(q, _)| q.as_str()).collect();
    // Instances in ProbLog's order, by their text.
    assert_eq!(rows, ["edge_data(a,b,0.5)", "edge_data(a,c,1.0)", "edge_data(b,c,0.25)"]);
}

#[test]
fn an_sqlite_database_is_one_predicate_per_table() {
    let dir = folder("sqlite");
    let db = rusqlite::Connection::open(dir.join("people.db")).unwrap();
    db.execute_batch(
        "CREATE TABLE person (name TEXT, age INTEGER);\n\
         INSERT INTO person VALUES ('ann', 31), ('bob', 17);\n\
         CREATE TABLE stress (name TEXT, p REAL);\n\
         INSERT INTO stress VALUES ('ann', 0.3), ('bob', 0.6);",
    )
    .unwrap();
    drop(db);
    let got = answers(
        &dir,
        ":- sqlite_load('people.db').\n\
         P::stressed(X) :- stress(X, P).\n\
         adult_stressed :- person(X, A), A >= 18, stressed(X).\n\
         query(adult_stressed).\nquery(person(_, _)).\n",
    )
    .unwrap();
    let names: Vec<&str> = got.iter().map(|(q, _)| q.as_str()).collect();
    assert_eq!(names, ["adult_stressed", "person(ann,31)", "person(bob,17)"]);
    assert!((got[0].1 - 0.3).abs() < 1e-12, "{got:?}");
}

#[test]
fn bad_data_is_an_error_naming_the_file_and_the_row() {
    let dir = folder("bad");
    std::fs::write(dir.join("short.csv"), "a,b\n1,2\n3\n").unwrap();
    std::fs::write(dir.join("typed.csv"), "a,b\n1,x\ny,z\n").unwrap();
    std::fs::write(dir.join("empty.csv"), "").unwrap();
    std::fs::write(dir.join("not.db"), "this is not a database").unwrap();
    for (directive, wanted) in [
        (":- csv_load('missing.csv', p).", "cannot read the CSV file `missing.csv`"),
        (":- csv_load('short.csv', p).", "short.csv:3: 1 fields where the header names 2 columns"),
        (":- csv_load('typed.csv', p).", "typed.csv:3: column `a` holds an integer (from the first row), not `y`"),
        (":- csv_load('empty.csv', p).", "the CSV file `empty.csv` is empty"),
        (":- sqlite_load('missing.db').", "cannot read the SQLite database `missing.db`: no such file"),
        (":- sqlite_load('not.db').", "not.db"),
        (":- csv_load(f(x), p).", "a file's name must be an atom or a string"),
    ] {
        let e = answers(&dir, &format!("{directive}\nq.\nquery(q).\n")).unwrap_err();
        assert!(e.contains("model.pl:1:") && e.contains(wanted), "{directive}: {e}");
    }
    // Nothing was created by the failed loads.
    assert!(!dir.join("missing.db").exists());
}

#[test]
fn an_included_file_adds_its_clauses() {
    let dir = folder("include");
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(dir.join("lib/graph.pl"), "0.5::e(a,b). 0.5::e(b,c).\n:- include('rules.pl').\n").unwrap();
    std::fs::write(dir.join("lib/rules.pl"), "p(X,Y) :- e(X,Y).\np(X,Y) :- e(X,Z), p(Z,Y).\n").unwrap();
    let got = answers(&dir, ":- include('lib/graph.pl').\nquery(p(a,c)).\n").unwrap();
    assert_eq!(got.len(), 1);
    assert!((got[0].1 - 0.25).abs() < 1e-12, "{got:?}");
    std::fs::write(dir.join("self.pl"), ":- include('self.pl').\n").unwrap();
    std::fs::write(dir.join("broken.pl"), "a.\nb :- .\n").unwrap();
    for (directive, wanted) in [
        (":- include('missing.pl').", "cannot read the included file `missing.pl`"),
        (":- include('self.pl').", "`self.pl` includes itself"),
        (":- consult('broken.pl').", "broken.pl:2: syntax error"),
    ] {
        let e = answers(&dir, &format!("{directive}\nq.\nquery(q).\n")).unwrap_err();
        assert!(e.contains("model.pl:1:") && e.contains(wanted), "{directive}: {e}");
    }
}
