//! Output files (`-o`) written safely: never onto the command's own input,
//! through a symbolic link rather than over it, streamed to a FIFO or a
//! character device rather than renamed over one, refused on a directory,
//! and no hidden temporary left behind when SIGINT or SIGTERM stops a
//! write.

use std::path::{Path, PathBuf};
use std::process::Command;

fn deeplog(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deeplog")).args(args).output().expect("run deeplog");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into())
}

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deeplog-output-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn hidden(dir: &Path) -> Vec<String> {
    let names = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned());
    names.filter(|n| n.starts_with('.')).collect()
}

const MODEL: &str = "0.3::a. 0.6::b.\nc :- a.\nc :- b.\nquery(c).\n";

#[test]
fn an_output_onto_an_input_is_refused_before_any_work() {
    let dir = scratch("input");
    let model = dir.join("m.pl");
    std::fs::write(&model, MODEL).unwrap();
    let (code, err) = deeplog(&["compile", s(&model), "-o", s(&model)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("-o {0} would overwrite the input {0}", model.display())), "{err}");
    assert_eq!(std::fs::read_to_string(&model).unwrap(), MODEL);

    // Through a link, or a second name, it is the same file.
    #[cfg(unix)]
    {
        let link = dir.join("link.json");
        std::os::unix::fs::symlink("m.pl", &link).unwrap();
        let (code, err) = deeplog(&["compile", s(&model), "-o", s(&link)]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("would overwrite the input"), "{err}");
        let second = dir.join("second.pl");
        std::fs::hard_link(&model, &second).unwrap();
        let data = dir.join("d.jsonl");
        std::fs::write(&data, "{\"query\": \"c\", \"probability\": 0.5}\n").unwrap();
        let learnable = dir.join("t.pl");
        std::fs::write(&learnable, "t(0.5)::a.\nc :- a.\n").unwrap();
        let (code, err) = deeplog(&["train", s(&learnable), "--data", s(&data), "-o", s(&data)]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("would overwrite the input"), "{err}");
        let (code, err) = deeplog(&["compile", s(&second), "-o", s(&model)]);
        assert_eq!(code, 1, "{err}");
        assert_eq!(std::fs::read_to_string(&model).unwrap(), MODEL);
    }
    let sdd = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/circuits/sudoku_4.sdd");
    let copy = dir.join("c.sdd");
    std::fs::copy(&sdd, &copy).unwrap();
    let (code, err) = deeplog(&["circuit", "convert", s(&copy), "-o", s(&copy)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("would overwrite the input"), "{err}");
    assert!(hidden(&dir).is_empty());
}

#[test]
fn a_directory_is_refused_and_a_fifo_is_written_as_a_stream() {
    let dir = scratch("special");
    let model = dir.join("m.pl");
    std::fs::write(&model, MODEL).unwrap();
    let (code, err) = deeplog(&["compile", s(&model), "-o", s(&dir)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("{} is a directory", dir.display())), "{err}");

    #[cfg(unix)]
    {
        let fifo = dir.join("pipe");
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        let (code, err) = deeplog(&["compile", s(&model), "-o", s(&fifo)]);
        assert_eq!(code, 0, "{err}");
        let text = reader.join().unwrap();
        assert!(text.contains("\"model\""), "{text}");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced");
    }
    assert!(hidden(&dir).is_empty(), "{:?}", hidden(&dir));
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_is_written_through() {
    let dir = scratch("link");
    let model = dir.join("m.pl");
    std::fs::write(&model, MODEL).unwrap();
    std::fs::create_dir(dir.join("kept")).unwrap();
    std::fs::write(dir.join("kept/out.json"), "old").unwrap();
    std::os::unix::fs::symlink("kept/out.json", dir.join("out.json")).unwrap();
    let (code, err) = deeplog(&["compile", s(&model), "-o", s(&dir.join("out.json"))]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::symlink_metadata(dir.join("out.json")).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(dir.join("kept/out.json")).unwrap().contains("\"model\""));
    assert!(hidden(&dir).is_empty() && hidden(&dir.join("kept")).is_empty());
}

/// A c2d file of `n` variables and a chain of `n - 1` conjunctions: its
/// DOT text is tens of megabytes, which takes a while to write and sync.
fn large_nnf(n: usize) -> String {
    let mut text = format!("nnf {} {} {n}\n", 2 * n - 1, 2 * (n - 1));
    for v in 1..=n {
        text.push_str(&format!("L {v}\n"));
    }
    let mut previous = 0;
    for v in 1..n {
        text.push_str(&format!("A 2 {previous} {v}\n"));
        previous = n + v - 1;
    }
    text
}

/// SIGTERM or SIGINT while the output's temporary exists: the process
/// removes it and exits with 128 + the signal. The temporary is watched for
/// and the signal sent once it is seen; a run that finishes first proves
/// nothing and is tried again.
#[cfg(unix)]
#[test]
fn a_signal_mid_write_leaves_no_temporary() {
    let dir = scratch("signal");
    let input = dir.join("big.nnf");
    std::fs::write(&input, large_nnf(300_000)).unwrap();
    let output = dir.join("big.dot");
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let mut caught = false;
        for _ in 0..5 {
            let _ = std::fs::remove_file(&output);
            let mut child = Command::new(env!("CARGO_BIN_EXE_deeplog"))
                .args(["circuit", "convert", s(&input), "-o", s(&output)])
                .spawn()
                .unwrap();
            let seen = loop {
                if hidden(&dir).iter().any(|n| n.ends_with(".tmp")) {
                    break true;
                }
                if child.try_wait().unwrap().is_some() {
                    break false;
                }
                std::thread::sleep(std::time::Duration::from_micros(200));
            };
            if seen {
                // SAFETY: signals the child this test started.
                assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
            }
            let status = child.wait().unwrap();
            assert!(hidden(&dir).is_empty(), "left behind: {:?}", hidden(&dir));
            if seen && status.code() == Some(code) {
                assert!(!output.exists(), "the output was written whole after all");
                caught = true;
                break;
            }
        }
        if !caught {
            eprintln!("every write of signal {signal}'s runs finished before the signal arrived; nothing to check");
        }
    }
}
