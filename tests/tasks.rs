//! ProbLog's tasks against brute force: on small random propositional
//! programs (probabilistic facts, an annotated disjunction, rules with
//! negation, evidence), `Model::mpe` and `Model::map` against enumerating
//! every world.

use deeplog::{Model, QueryOptions};

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1e6 < p
    }
}

/// A program over facts `f0..`, an annotated disjunction `x0; x1; x2`
/// (maybe summing to less than 1) and derived atoms `d0..`, each rule's body
/// two or three distinct literals over earlier atoms (so stratified), every
/// fact and alternative used by some rule; evidence on some derived atoms.
struct Program {
    facts: Vec<f64>,
    disjunction: Vec<f64>,
    /// Per derived atom: its rules, each a body of (atom index, positive);
    /// atoms numbered facts, then alternatives, then derived.
    rules: Vec<Vec<Vec<(usize, bool)>>>,
    evidence: Vec<(usize, bool)>,
}

impl Program {
    fn random(rng: &mut Rng) -> Program {
        let n_facts = 2 + rng.below(4);
        let probs = [0.1, 0.2, 0.25, 0.3, 0.5, 0.6, 0.7, 0.75, 0.9];
        let facts: Vec<f64> = (0..n_facts).map(|_| probs[rng.below(probs.len())]).collect();
        let disjunction = if rng.chance(0.5) { vec![0.2, 0.3, 0.5] } else { vec![0.1, 0.4, 0.3] };
        let base = n_facts + 3;
        let n_derived = 3 + rng.below(3);
        let mut rules: Vec<Vec<Vec<(usize, bool)>>> = Vec::new();
        for d in 0..n_derived {
            let available = base + d;
            let mut own = Vec::new();
            for _ in 0..1 + rng.below(2) {
                let len = 2 + rng.below(2);
                let mut body: Vec<(usize, bool)> = Vec::new();
                while body.len() < len.min(available) {
                    let a = rng.below(available);
                    if body.iter().all(|&(b, _)| b != a) {
                        body.push((a, rng.chance(0.7)));
                    }
                }
                own.push(body);
            }
            rules.push(own);
        }
        // Every fact and alternative used somewhere (positively).
        for a in 0..base {
            if !rules.iter().flatten().flatten().any(|&(b, _)| b == a) {
                let d = rng.below(n_derived);
                rules[d].push(vec![(a, true)]);
            }
        }
        let mut evidence = Vec::new();
        for d in 0..n_derived {
            if rng.chance(0.35) {
                evidence.push((base + d, rng.chance(0.6)));
            }
        }
        Program { facts, disjunction, rules, evidence }
    }

    fn base(&self) -> usize {
        self.facts.len() + self.disjunction.len()
    }

    fn name(&self, a: usize) -> String {
        let f = self.facts.len();
        if a < f {
            format!("f{a}")
        } else if a < self.base() {
            format!("x{}", a - f)
        } else {
            format!("d{}", a - self.base())
        }
    }

    /// The model text; `queries`: the atoms asked.
    fn text(&self, queries: &[usize]) -> String {
        let mut s = String::new();
        for (i, p) in self.facts.iter().enumerate() {
            s += &format!("{p}::f{i}.\n");
        }
        let alts: Vec<String> = self.disjunction.iter().enumerate().map(|(i, p)| format!("{p}::x{i}")).collect();
        s += &format!("{}.\n", alts.join("; "));
        for (d, own) in self.rules.iter().enumerate() {
            for body in own {
                let lits: Vec<String> = body
                    .iter()
                    .map(|&(a, pos)| if pos { self.name(a) } else { format!("\\+{}", self.name(a)) })
                    .collect();
                s += &format!("d{d} :- {}.\n", lits.join(", "));
            }
        }
        for &(a, v) in &self.evidence {
            s += &format!("evidence({}, {v}).\n", self.name(a));
        }
        for &q in queries {
            s += &format!("query({}).\n", self.name(q));
        }
        s
    }

    /// Every world: (probability, truth of every atom).
    fn worlds(&self) -> Vec<(f64, Vec<bool>)> {
        let f = self.facts.len();
        let k = self.disjunction.len();
        let none = 1.0 - self.disjunction.iter().sum::<f64>();
        let mut out = Vec::new();
        for bits in 0..1usize << f {
            for alt in 0..=k {
                let mut p = 1.0;
                let mut value = vec![false; self.base() + self.rules.len()];
                for (i, &q) in self.facts.iter().enumerate() {
                    let v = bits >> i & 1 == 1;
                    value[i] = v;
                    p *= if v { q } else { 1.0 - q };
                }
                if alt < k {
                    value[f + alt] = true;
                    p *= self.disjunction[alt];
                } else {
                    p *= none;
                }
                for (d, own) in self.rules.iter().enumerate() {
                    value[self.base() + d] = own.iter().any(|body| body.iter().all(|&(a, pos)| value[a] == pos));
                }
                if p > 0.0 {
                    out.push((p, value));
                }
            }
        }
        out
    }

    fn evidence_holds(&self, value: &[bool]) -> bool {
        self.evidence.iter().all(|&(a, v)| value[a] == v)
    }
}

#[test]
fn mpe_is_the_most_probable_world_where_the_evidence_holds() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut checked = 0;
    for _ in 0..150 {
        let program = Program::random(&mut rng);
        let derived: Vec<usize> = (program.base()..program.base() + program.rules.len()).collect();
        let text = program.text(&derived);
        let worlds = program.worlds();
        let best = worlds.iter().filter(|(_, v)| program.evidence_holds(v)).map(|(p, _)| *p).fold(0.0, f64::max);
        let model = Model::from_source("random.pl", &text).unwrap();
        match model.mpe(&QueryOptions::default()) {
            Ok(mpe) => {
                assert!(best > 0.0, "{text}\nanswered {mpe:?} for impossible evidence");
                assert!((mpe.probability - best).abs() < 1e-12, "{text}\n{} vs brute force {best}", mpe.probability);
                // The world it names is one of the best: its facts and
                // queries as in a world of that probability.
                let named = |v: &Vec<bool>| {
                    let facts: Vec<(String, bool)> = (0..program.base()).map(|a| (program.name(a), v[a])).collect();
                    let queries: Vec<(String, bool)> = derived.iter().map(|&a| (program.name(a), v[a])).collect();
                    (facts, queries)
                };
                let mut got_facts = mpe.facts.clone();
                got_facts.sort();
                let found = worlds.iter().any(|(p, v)| {
                    let (mut facts, queries) = named(v);
                    facts.sort();
                    (p - best).abs() < 1e-12
                        && program.evidence_holds(v)
                        && facts == got_facts
                        && queries == mpe.queries
                });
                assert!(found, "{text}\n{mpe:?} is not a most probable world");
                checked += 1;
            }
            Err(e) => assert!(best == 0.0, "{text}\nrefused ({e}) though the evidence can hold ({best})"),
        }
    }
    assert!(checked > 100, "only {checked} programs had possible evidence");
}

#[test]
fn map_is_the_most_probable_assignment_of_the_asked_facts() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut checked = 0;
    for _ in 0..150 {
        let program = Program::random(&mut rng);
        let asked: Vec<usize> = (0..program.facts.len()).filter(|_| rng.chance(0.6)).collect();
        if asked.is_empty() {
            continue;
        }
        let text = program.text(&asked);
        let mut joint = std::collections::HashMap::<Vec<bool>, f64>::new();
        for (p, v) in program.worlds() {
            if program.evidence_holds(&v) {
                *joint.entry(asked.iter().map(|&a| v[a]).collect()).or_default() += p;
            }
        }
        let best = joint.values().copied().fold(0.0, f64::max);
        let model = Model::from_source("random.pl", &text).unwrap();
        match model.map(&QueryOptions::default()) {
            Ok(map) => {
                assert!((map.probability - best).abs() < 1e-12, "{text}\n{} vs brute force {best}", map.probability);
                let key: Vec<bool> = map.assignment.iter().map(|(_, v)| *v).collect();
                let names: Vec<String> = map.assignment.iter().map(|(n, _)| n.clone()).collect();
                assert_eq!(names, asked.iter().map(|&a| program.name(a)).collect::<Vec<_>>());
                assert!((joint[&key] - best).abs() < 1e-12, "{text}\n{map:?} is not a most probable assignment");
                checked += 1;
            }
            Err(e) => assert!(best == 0.0, "{text}\nrefused ({e}) though the evidence can hold ({best})"),
        }
    }
    assert!(checked > 80, "only {checked} programs checked");
}

#[test]
fn mpe_matches_problogs_on_its_examples() {
    // Alternatives nothing depends on fold into "none" (ProbLog's relevant
    // ground program): `y` is irrelevant, so `\+x` weighs 0.7.
    let model = Model::from_source(
        "t.pl",
        "0.6::a. 0.3::b. 0.2::c.\n0.3::x; 0.5::y.\nq :- a, \\+ b.\nr :- x.\nr :- c.\nevidence(q).\nquery(r).\n",
    )
    .unwrap();
    let mpe = model.mpe(&QueryOptions::default()).unwrap();
    assert!((mpe.probability - 0.2352).abs() < 1e-12, "{mpe:?}");
    assert_eq!(mpe.queries, vec![("r".to_string(), false)]);
    // Both alternatives relevant and neither true: "none" weighs 0.2.
    let model = Model::from_source(
        "t.pl",
        "0.6::a. 0.2::c.\n0.3::x; 0.5::y.\nr :- x.\nr :- y.\nevidence(r, false).\nt :- c.\nevidence(t).\n",
    )
    .unwrap();
    let mpe = model.mpe(&QueryOptions::default()).unwrap();
    assert!((mpe.probability - 0.04).abs() < 1e-12, "{mpe:?}");
    assert_eq!(mpe.facts, vec![("c".to_string(), true), ("x".to_string(), false), ("y".to_string(), false)]);
    // Nothing asked, nothing relevant.
    let model = Model::from_source("t.pl", "0.6::a.\n").unwrap();
    let mpe = model.mpe(&QueryOptions::default()).unwrap();
    assert_eq!((mpe.probability, mpe.facts.len()), (1.0, 0));
}

#[test]
fn mpe_and_map_refuse_impossible_evidence_and_map_refuses_derived_atoms() {
    let model = Model::from_source("t.pl", "0.5::a.\nb :- a.\nevidence(b).\nevidence(a, false).\nquery(a).\n").unwrap();
    // At the evidence statement that cannot hold.
    let e = model.mpe(&QueryOptions::default()).unwrap_err().to_string();
    assert!(e.starts_with("t.pl:4:1:") && e.contains("impossible"), "{e}");
    let e = model.map(&QueryOptions::default()).unwrap_err().to_string();
    assert!(e.starts_with("t.pl:4:1:") && e.contains("impossible"), "{e}");
    let model = Model::from_source("t.pl", "0.5::a.\nb :- a.\nquery(b).\n").unwrap();
    let e = model.map(&QueryOptions::default()).unwrap_err().to_string();
    assert!(e.contains("not a probabilistic fact"), "{e}");
}

fn deeplog(args: &[&str], model: &str) -> (i32, String, String) {
    let dir = std::env::temp_dir().join(format!("deeplog-tasks-{}-{}", std::process::id(), args.join("-").len()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("m{}.pl", model.len()));
    std::fs::write(&file, model).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deeplog")).args(args).arg(&file).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_commands_print_what_problog_prints() {
    let model = "0.6::a. 0.2::c.\n0.3::x; 0.5::y.\nr :- x.\nr :- y.\nevidence(r, false).\nt :- c.\nevidence(t).\n";
    // ProbLog 2.3 prints `c`, `\+x`, `\+y` (and its internal `choice(…,null)`)
    // and `% Probability: 0.04`.
    let (code, out, _) = deeplog(&["mpe"], model);
    assert_eq!((code, out.as_str()), (0, "c\n\\+x\n\\+y\n% Probability: 0.04\n"));
    let (code, out, _) = deeplog(&["mpe", "--json"], model);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["assignment"], serde_json::json!({"c": true, "x": false, "y": false}));
    assert!((v["probability"].as_f64().unwrap() - 0.04).abs() < 1e-15);
    // With queries, their values; small probabilities as C's %g.
    let model = "0.01::a. 0.001::b.\nq :- a.\nq :- b.\nevidence(q).\nquery(a). query(b).\n";
    let (code, out, _) = deeplog(&["mpe"], model);
    assert_eq!((code, out.as_str()), (0, "a\n\\+b\n% Probability: 0.00999\n"));
    let (code, out, _) = deeplog(&["map"], model);
    assert_eq!((code, out.as_str()), (0, "a:\t1 \nb:\t0 \n% Probability: 0.00999\n"));
    let (code, out, _) = deeplog(&["map", "--json"], model);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["assignment"], serde_json::json!({"a": true, "b": false}));
    // Impossible evidence: a located error, exit 1, nothing on stdout.
    let (code, out, err) = deeplog(&["mpe"], "0.5::a.\nevidence(a).\nevidence(a, false).\n");
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains(".pl:2:1:") && err.contains("impossible"), "{err}");
}

#[test]
fn the_ground_programs_cnf_counts_the_evidences_probability() {
    // `ground --format cnf`, compiled back by `compile --cnf`: its weighted
    // model count is P(evidence) by enumeration (1 without evidence).
    let mut rng = Rng(0x5851_f42d_4c95_7f2d);
    let dir = std::env::temp_dir().join(format!("deeplog-ground-cnf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..25 {
        let program = Program::random(&mut rng);
        let derived: Vec<usize> = (program.base()..program.base() + program.rules.len()).collect();
        let text = program.text(&derived);
        let evidence: f64 = program.worlds().iter().filter(|(_, v)| program.evidence_holds(v)).map(|(p, _)| p).sum();
        let model = dir.join(format!("m{i}.pl"));
        let cnf = dir.join(format!("m{i}.cnf"));
        std::fs::write(&model, &text).unwrap();
        let run = |args: &[&std::ffi::OsStr]| {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_deeplog")).args(args).output().unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
            )
        };
        let (ok, out) = run(&[
            "ground".as_ref(),
            "--format".as_ref(),
            "cnf".as_ref(),
            model.as_os_str(),
            "-o".as_ref(),
            cnf.as_os_str(),
        ]);
        assert!(ok, "{text}\n{out}");
        let compiled = dir.join(format!("m{i}.json"));
        let (ok, out) =
            run(&["compile".as_ref(), "--cnf".as_ref(), cnf.as_os_str(), "-o".as_ref(), compiled.as_os_str()]);
        if evidence == 0.0 {
            // The CNF has no model: compiling it says so, or counts 0.
            assert!(!ok || out.contains("weighted model count: 0\n"), "{text}\n{out}");
            continue;
        }
        assert!(ok, "{text}\n{out}");
        let count: f64 = out
            .lines()
            .find_map(|l| l.strip_prefix("weighted model count: "))
            .unwrap_or_else(|| panic!("{out}"))
            .trim()
            .parse()
            .unwrap();
        assert!((count - evidence).abs() < 1e-12, "{text}\ncount {count} vs P(evidence) {evidence}");
    }
    // JSON: the same program's parts.
    let model = dir.join("alarm.pl");
    std::fs::write(&model, "0.3::a. 0.2::x; 0.5::y.\nq :- a, \\+x.\nevidence(y, false).\nquery(q).\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deeplog"))
        .args(["ground".as_ref(), "--format".as_ref(), "json".as_ref(), model.as_os_str()])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["queries"], serde_json::json!(["q"]));
    assert_eq!(v["evidence"], serde_json::json!([{"atom": "y", "value": false}]));
    assert_eq!(v["rules"][0]["body"][1], serde_json::json!({"atom": "x", "positive": false}));
    assert_eq!(v["choices"].as_array().unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sampled_estimates_cover_the_exact_answers_at_the_stated_rate() {
    use deeplog::sample::SampleOptions;
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let (mut inside, mut total) = (0, 0);
    for i in 0..60 {
        let program = Program::random(&mut rng);
        let derived: Vec<usize> = (program.base()..program.base() + program.rules.len()).collect();
        let text = program.text(&derived);
        let worlds = program.worlds();
        let evidence: f64 = worlds.iter().filter(|(_, v)| program.evidence_holds(v)).map(|(p, _)| p).sum();
        if evidence < 0.05 {
            continue; // rejection sampling would be slow; nothing new to test
        }
        let model = Model::from_source("random.pl", &text).unwrap();
        let options = SampleOptions { samples: 4000, seed: i, ..SampleOptions::default() };
        let samples = model.sample(&QueryOptions::default(), &options).unwrap();
        assert_eq!(samples.worlds.len(), 4000);
        for (k, estimate) in samples.estimates().iter().enumerate() {
            let q = derived[k];
            assert_eq!(estimate.query, program.name(q));
            let exact: f64 =
                worlds.iter().filter(|(_, v)| program.evidence_holds(v) && v[q]).map(|(p, _)| p).sum::<f64>()
                    / evidence;
            total += 1;
            if (estimate.lower..=estimate.upper).contains(&exact) {
                inside += 1;
            } else if std::env::var("DEBUG_SAMPLE").is_ok() {
                eprintln!("{text}\n{estimate:?} exact {exact}\n");
            }
        }
        // The same seed, the same samples.
        if i < 3 {
            assert_eq!(model.sample(&QueryOptions::default(), &options).unwrap(), samples);
        }
    }
    let rate = inside as f64 / total as f64;
    assert!(total > 150 && rate > 0.9, "{inside} of {total} intervals hold the exact answer");
}

#[test]
fn sample_prints_what_problog_prints() {
    let model = "0.6::a. 0.3::b.\nr :- a.\ns :- a, b.\nquery(r). query(s).\n";
    let (code, out, _) = deeplog(&["sample", "-N", "5", "--seed", "7"], model);
    assert_eq!(code, 0);
    let samples: Vec<&str> = out.split("----------------\n").collect();
    assert_eq!(samples.len(), 5, "{out}");
    for s in &samples {
        // Each sample lists the true queries, `s.` only with `r.`.
        assert!(s.lines().all(|l| l == "r." || l == "s."), "{out}");
        assert!(!s.contains("s.") || s.contains("r."), "{out}");
    }
    let (_, again, _) = deeplog(&["sample", "-N", "5", "--seed", "7"], model);
    assert_eq!(out, again, "the same seed, the same samples");
    let (code, out, _) = deeplog(&["sample", "-N", "20000", "--estimate", "--json"], model);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let r = &v["queries"][0];
    assert_eq!(r["query"], "r");
    // (Coverage is the test above's; here the shape, and a value within
    // six standard errors.)
    let value = r["value"].as_f64().unwrap();
    assert!((value - 0.6).abs() < 0.02 && r["lower"].as_f64().unwrap() < value, "{out}");
    assert!(value < r["upper"].as_f64().unwrap(), "{out}");
    let (code, out, _) = deeplog(&["sample", "-N", "100", "--estimate"], model);
    assert_eq!(code, 0);
    assert!(out.starts_with("% Probability estimate after 100 samples ("), "{out}");
    assert!(out.contains("\nr:\t") && out.contains("\ns:\t") && out.contains("% 95% intervals"), "{out}");
    // Evidence that cannot hold: rejection sampling says so.
    let (code, _, err) = deeplog(&["sample", "-N", "3"], "0.5::a.\nb :- a.\nevidence(b).\nevidence(a, false).\n");
    assert_eq!(code, 1, "{err}");
}

#[test]
fn dt_finds_the_strategy_of_highest_expected_utility() {
    use deeplog::tasks::DtSearch;
    let mut rng = Rng(0x7f4a_7c15_9e37_79b9);
    let mut checked = 0;
    for _ in 0..80 {
        let program = Program::random(&mut rng);
        let n_dec = 1 + rng.below(program.facts.len().min(3));
        let decisions: Vec<usize> = (0..n_dec).collect(); // f0.., as decisions
        let derived: Vec<usize> = (program.base()..program.base() + program.rules.len()).collect();
        let values: Vec<f64> = derived.iter().map(|_| (rng.below(41) as f64) - 20.0).collect();
        let costs: Vec<f64> = decisions.iter().map(|_| -(rng.below(6) as f64)).collect();
        let mut text = String::new();
        for line in program.text(&[]).lines() {
            let decision = decisions.iter().any(|&d| line.ends_with(&format!("::f{d}.")));
            if decision {
                text += &format!("?::{}\n", line.split("::").nth(1).unwrap());
            } else {
                text += &format!("{line}\n");
            }
        }
        for (d, v) in derived.iter().zip(&values) {
            text += &format!("utility({}, {v}).\n", program.name(*d));
        }
        for (d, c) in decisions.iter().zip(&costs) {
            text += &format!("utility(f{d}, {c}).\n");
        }
        // Brute force: each strategy's expected utility given the evidence.
        let worlds = program.worlds();
        let mut best = f64::NEG_INFINITY;
        for s in 0..1usize << n_dec {
            let on = |d: usize| s >> d & 1 == 1;
            let chosen: Vec<&(f64, Vec<bool>)> =
                worlds.iter().filter(|(_, v)| decisions.iter().all(|&d| v[d] == on(d))).collect();
            // P(world | strategy): the decisions' own factors divided out.
            let factor: f64 =
                decisions.iter().map(|&d| if on(d) { program.facts[d] } else { 1.0 - program.facts[d] }).product();
            let pe: f64 = chosen.iter().filter(|(_, v)| program.evidence_holds(v)).map(|(p, _)| p / factor).sum();
            if pe <= 0.0 {
                continue;
            }
            let mut eu: f64 = decisions.iter().zip(&costs).map(|(&d, c)| if on(d) { *c } else { 0.0 }).sum();
            for (d, v) in derived.iter().zip(&values) {
                let p: f64 = chosen
                    .iter()
                    .filter(|(_, w)| program.evidence_holds(w) && w[*d])
                    .map(|(p, _)| p / factor)
                    .sum::<f64>()
                    / pe;
                eu += v * p;
            }
            best = best.max(eu);
        }
        let model = Model::from_source("dt.pl", &text).unwrap();
        match model.dt(&QueryOptions::default(), DtSearch::Exhaustive) {
            Ok(dt) => {
                assert!((dt.score - best).abs() < 1e-9, "{text}\n{dt:?} vs brute force {best}");
                checked += 1;
            }
            Err(e) => {
                // A decision nothing depends on, or evidence no strategy
                // makes possible: refused, with the reason.
                let e = e.to_string();
                assert!(
                    e.contains("affects no utility") || best == f64::NEG_INFINITY || e.contains("impossible"),
                    "{text}\n{e}"
                );
            }
        }
    }
    eprintln!("dt: {checked} of 80 programs checked against enumeration");
    assert!(checked > 40, "only {checked} programs checked");
}
