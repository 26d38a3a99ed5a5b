//! The LangGraph saver's logic (`wflo_core::langgraph::Checkpointer`) over a real execution, in
//! memory and in a SQLite file: deltas resolved from ancestors, list filters, pending writes,
//! wflo rollbacks, deletes, copies, prunes, two savers on one execution, records of earlier
//! layouts, damaged records and ids no name may split on.

use serde_json::{Value, json};
use wflo_core::langgraph::{
    Channel, CheckpointRecord, Checkpointer, DeleteRecord, ListFilter, PYTHON_MSGPACK_CONTENT_TYPE,
    PendingWrite, RECORD_CONTENT_TYPE, Record, Tuple, Typed, Write, WritesRecord, checkpoint_name,
    next_version, wire,
};
use wflo_core::{Engine, ErrorCode, Execution, ExecutionOptions};

mod common;

// ---- helpers -------------------------------------------------------------------------------

/// An engine of each kind: in memory, over a SQLite file (its directory kept alive) and, where
/// the test server runs, on PostgreSQL (each test on executions of its own).
fn engines() -> Vec<(&'static str, Engine, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wflo.db").to_string_lossy().into_owned();
    let mut all = vec![
        ("memory", Engine::in_memory(), None),
        ("sqlite", Engine::open(Some(&path)).unwrap(), Some(dir)),
    ];
    if let Some(url) = common::postgres_url() {
        all.push(("postgres", Engine::open(Some(&url)).unwrap(), None));
    }
    all
}

fn start(engine: &Engine) -> Execution {
    engine
        .start_execution(ExecutionOptions {
            name: "langgraph".into(),
            ..Default::default()
        })
        .unwrap()
}

/// Runs `f` on a fresh execution of each engine kind.
fn each(f: impl Fn(&str, &Execution)) {
    for (kind, engine, _dir) in engines() {
        let exec = start(&engine);
        f(kind, &exec);
    }
}

fn json_value(v: Value) -> Typed {
    Typed {
        kind: "json".into(),
        data: serde_json::to_vec(&v).unwrap().into(),
    }
}

/// A channel value as the tests store them: a JSON string.
fn val(s: &str) -> Typed {
    json_value(json!(s))
}

/// A checkpoint of `thread`/`ns`: `versions` are all its channel versions, `changed` the
/// channels it stores (name, version, value; `None`: the channel is empty).
fn ckpt(
    thread: &str,
    ns: &str,
    id: &str,
    parent: Option<&str>,
    versions: &[(&str, i64)],
    changed: &[(&str, i64, Option<&str>)],
) -> CheckpointRecord {
    record(
        thread,
        ns,
        id,
        parent,
        versions.iter().map(|(n, v)| (*n, json!(v))).collect(),
        changed.iter().map(|(n, v, x)| (*n, json!(v), *x)).collect(),
    )
}

/// [`ckpt`] with versions of any JSON kind.
fn record(
    thread: &str,
    ns: &str,
    id: &str,
    parent: Option<&str>,
    versions: Vec<(&str, Value)>,
    changed: Vec<(&str, Value, Option<&str>)>,
) -> CheckpointRecord {
    let cv: serde_json::Map<String, Value> = versions
        .iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect();
    CheckpointRecord {
        thread: thread.into(),
        ns: ns.into(),
        checkpoint_id: id.into(),
        parent: parent.map(str::to_owned),
        checkpoint: json_value(json!({"v": 4, "id": id, "channel_versions": cv})),
        metadata: json_value(json!({"step": id})),
        channels: changed
            .into_iter()
            .map(|(n, version, value)| Channel {
                name: n.to_string(),
                version,
                value: value.map(val),
            })
            .collect(),
        versions: Some(cv.into_iter().collect()),
        elsewhere: vec![],
    }
}

fn writes(
    thread: &str,
    ns: &str,
    id: &str,
    task: &str,
    path: &str,
    ws: &[(i64, &str, &str)],
) -> WritesRecord {
    WritesRecord {
        thread: thread.into(),
        ns: ns.into(),
        checkpoint_id: id.into(),
        task_id: task.into(),
        task_path: path.into(),
        writes: ws
            .iter()
            .map(|(idx, ch, v)| Write {
                idx: *idx,
                channel: ch.to_string(),
                value: val(v),
            })
            .collect(),
    }
}

/// A tuple's channel values, sorted by name, as (name, JSON string value).
fn values(t: &Tuple) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = t
        .channel_values
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                serde_json::from_slice::<String>(&v.data).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn expect(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Pending writes as (task, channel, JSON string value).
fn pw(ws: &[PendingWrite]) -> Vec<(String, String, String)> {
    ws.iter()
        .map(|w| {
            (
                w.task_id.clone(),
                w.channel.clone(),
                serde_json::from_slice::<String>(&w.value.data).unwrap(),
            )
        })
        .collect()
}

fn pw_expect(ws: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    ws.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

fn ids(list: &[(String, String, String)]) -> Vec<&str> {
    list.iter().map(|k| k.2.as_str()).collect()
}

fn thread(t: &str) -> ListFilter {
    ListFilter {
        thread: Some(t.into()),
        ..Default::default()
    }
}

/// Three checkpoints of thread `t`, each storing only what changed:
/// c1 {a: a1, b: b1}; c2 {a: a2} (b from c1); c3 {c: c1, b emptied} (a from c2).
fn chain(saver: &Checkpointer, exec: &Execution, t: &str, ns: &str) {
    saver
        .put(
            exec,
            ckpt(
                t,
                ns,
                "c1",
                None,
                &[("a", 1), ("b", 1)],
                &[("a", 1, Some("a1")), ("b", 1, Some("b1"))],
            ),
        )
        .unwrap();
    saver
        .put(
            exec,
            ckpt(
                t,
                ns,
                "c2",
                Some("c1"),
                &[("a", 2), ("b", 1)],
                &[("a", 2, Some("a2"))],
            ),
        )
        .unwrap();
    saver
        .put(
            exec,
            ckpt(
                t,
                ns,
                "c3",
                Some("c2"),
                &[("a", 2), ("b", 2), ("c", 1)],
                &[("b", 2, None), ("c", 1, Some("c1"))],
            ),
        )
        .unwrap();
}

/// The wflo checkpoints the execution holds (a write of nothing adds none).
fn stored(exec: &Execution) -> usize {
    exec.checkpoints().unwrap().len()
}

// ---- reading -------------------------------------------------------------------------------

#[test]
fn a_chain_of_deltas_resolves_every_channel_from_its_ancestors() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        chain(&saver, exec, "t", "");
        let c1 = saver.get(exec, "t", "", Some("c1")).unwrap().unwrap();
        assert_eq!(values(&c1), expect(&[("a", "a1"), ("b", "b1")]), "{kind}");
        assert_eq!(c1.parent, None);
        let c2 = saver.get(exec, "t", "", Some("c2")).unwrap().unwrap();
        assert_eq!(values(&c2), expect(&[("a", "a2"), ("b", "b1")]), "{kind}");
        assert_eq!(c2.parent.as_deref(), Some("c1"));
        // An emptied channel has no value; the others come from c2 and c3 itself.
        let c3 = saver.get(exec, "t", "", Some("c3")).unwrap().unwrap();
        assert_eq!(values(&c3), expect(&[("a", "a2"), ("c", "c1")]), "{kind}");
        assert_eq!(c3.metadata, json_value(json!({"step": "c3"})));
        assert_eq!(
            (
                c3.thread.as_str(),
                c3.ns.as_str(),
                c3.checkpoint_id.as_str()
            ),
            ("t", "", "c3")
        );
        // The latest is c3; a fresh saver (no index kept) reads the same.
        assert_eq!(saver.get(exec, "t", "", None).unwrap().unwrap(), c3);
        assert_eq!(
            Checkpointer::new()
                .get(exec, "t", "", None)
                .unwrap()
                .unwrap(),
            c3,
            "{kind}"
        );
        assert_eq!(
            Checkpointer::new()
                .get(exec, "t", "", Some("c2"))
                .unwrap()
                .unwrap(),
            c2,
            "{kind}"
        );
        // Nothing for another id, thread or namespace.
        assert_eq!(saver.get(exec, "t", "", Some("c9")).unwrap(), None);
        assert_eq!(saver.get(exec, "u", "", None).unwrap(), None);
        assert_eq!(saver.get(exec, "t", "sub", None).unwrap(), None);
    });
}

#[test]
fn an_empty_checkpoint_id_means_the_latest_as_in_python() {
    each(|_, exec| {
        let saver = Checkpointer::new();
        chain(&saver, exec, "t", "");
        assert_eq!(
            saver
                .get(exec, "t", "", Some(""))
                .unwrap()
                .unwrap()
                .checkpoint_id,
            "c3"
        );
        let all = saver
            .list(
                exec,
                &ListFilter {
                    checkpoint_id: Some("".into()),
                    before: Some("".into()),
                    ..thread("t")
                },
            )
            .unwrap();
        assert_eq!(ids(&all), ["c3", "c2", "c1"]);
    });
}

#[test]
fn a_checkpoint_put_again_is_its_newest_record() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        chain(&saver, exec, "t", "");
        let mut again = ckpt(
            "t",
            "",
            "c2",
            Some("c1"),
            &[("a", 2), ("b", 1)],
            &[("a", 2, Some("a2"))],
        );
        again.metadata = json_value(json!({"again": true}));
        saver.put(exec, again).unwrap();
        assert_eq!(
            saver
                .get(exec, "t", "", Some("c2"))
                .unwrap()
                .unwrap()
                .metadata,
            json_value(json!({"again": true})),
            "{kind}"
        );
        assert_eq!(
            ids(&saver.list(exec, &thread("t")).unwrap()),
            ["c3", "c2", "c1"],
            "listed once"
        );
        // The latest is by id, not by when it was stored.
        assert_eq!(
            saver
                .get(exec, "t", "", None)
                .unwrap()
                .unwrap()
                .checkpoint_id,
            "c3"
        );
    });
}

#[test]
fn a_checkpoint_without_its_parent_finds_values_by_version_in_its_thread() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        chain(&saver, exec, "t", "");
        // Its parent was never stored: a at version 2 is found in c2, c at 1 in c3.
        saver
            .put(
                exec,
                ckpt(
                    "t",
                    "",
                    "c4",
                    Some("gone"),
                    &[("a", 2), ("c", 1), ("d", 1)],
                    &[("d", 1, Some("d1"))],
                ),
            )
            .unwrap();
        let c4 = saver.get(exec, "t", "", Some("c4")).unwrap().unwrap();
        assert_eq!(
            values(&c4),
            expect(&[("a", "a2"), ("c", "c1"), ("d", "d1")]),
            "{kind}"
        );
        // Not from another thread.
        saver
            .put(exec, ckpt("u", "", "x", Some("gone"), &[("a", 1)], &[]))
            .unwrap();
        assert_eq!(
            values(&saver.get(exec, "u", "", Some("x")).unwrap().unwrap()),
            expect(&[])
        );
    });
}

#[test]
fn list_filters_by_thread_namespace_id_and_before_newest_id_first() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        // Stored out of id order: the list still goes by id.
        for (t, ns, id) in [
            ("t1", "", "03"),
            ("t1", "", "01"),
            ("t1", "", "02"),
            ("t1", "sub", "05"),
            ("t2", "", "04"),
        ] {
            saver
                .put(
                    exec,
                    ckpt(t, ns, id, None, &[("a", 1)], &[("a", 1, Some(id))]),
                )
                .unwrap();
        }
        exec.checkpoint("not-langgraph", "{}").unwrap(); // another record of the execution is ignored
        let list = |f: ListFilter| saver.list(exec, &f).unwrap();
        assert_eq!(
            ids(&list(ListFilter::default())),
            ["05", "04", "03", "02", "01"],
            "{kind}"
        );
        assert_eq!(ids(&list(thread("t1"))), ["05", "03", "02", "01"]);
        assert_eq!(
            ids(&list(ListFilter {
                ns: Some("".into()),
                ..thread("t1")
            })),
            ["03", "02", "01"]
        );
        assert_eq!(
            ids(&list(ListFilter {
                ns: Some("sub".into()),
                ..Default::default()
            })),
            ["05"]
        );
        assert_eq!(
            ids(&list(ListFilter {
                checkpoint_id: Some("02".into()),
                ..thread("t1")
            })),
            ["02"]
        );
        assert_eq!(
            ids(&list(ListFilter {
                checkpoint_id: Some("04".into()),
                ..thread("t1")
            })),
            Vec::<&str>::new()
        );
        assert_eq!(
            ids(&list(ListFilter {
                before: Some("03".into()),
                ..thread("t1")
            })),
            ["02", "01"]
        );
        assert_eq!(
            ids(&list(ListFilter {
                before: Some("01".into()),
                ..Default::default()
            })),
            Vec::<&str>::new()
        );
        let keys = list(thread("t2"));
        assert_eq!(
            keys,
            vec![("t2".to_owned(), "".to_owned(), "04".to_owned())]
        );
    });
}

#[test]
fn list_orders_one_id_in_many_threads_the_same_way_every_time() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        for t in ["t5", "t1", "t4", "t2", "t3"] {
            for ns in ["", "b", "a"] {
                saver
                    .put(exec, ckpt(t, ns, "same", None, &[], &[]))
                    .unwrap();
            }
        }
        let first = saver.list(exec, &ListFilter::default()).unwrap();
        assert_eq!(first.len(), 15);
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(first, sorted, "{kind}: ties by thread, then namespace");
        for _ in 0..5 {
            assert_eq!(
                Checkpointer::new()
                    .list(exec, &ListFilter::default())
                    .unwrap(),
                first
            );
        }
    });
}

#[test]
fn one_saver_shared_by_threads_loses_nothing() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        std::thread::scope(|s| {
            for n in 0..4 {
                let (saver, exec) = (&saver, exec.clone());
                s.spawn(move || {
                    let t = format!("t{n}");
                    let mut parent: Option<String> = None;
                    for i in 0..10 {
                        let id = format!("{i:02}");
                        let v = format!("{n}-{i}");
                        let mut c = ckpt(
                            &t,
                            "",
                            &id,
                            parent.as_deref(),
                            &[("a", i + 1), ("n", 1)],
                            &[],
                        );
                        c.channels = vec![Channel {
                            name: "a".into(),
                            version: json!(i + 1),
                            value: Some(val(&v)),
                        }];
                        if i == 0 {
                            c.channels.push(Channel {
                                name: "n".into(),
                                version: json!(1),
                                value: Some(val(&t)),
                            });
                        }
                        saver.put(&exec, c).unwrap();
                        saver
                            .put_writes(&exec, writes(&t, "", &id, "k", "", &[(0, "a", &v)]))
                            .unwrap();
                        let got = saver.get(&exec, &t, "", None).unwrap().unwrap();
                        assert_eq!(values(&got), expect(&[("a", &v), ("n", &t)]), "{kind}");
                        parent = Some(id);
                    }
                });
            }
        });
        for n in 0..4 {
            let t = format!("t{n}");
            assert_eq!(saver.list(exec, &thread(&t)).unwrap().len(), 10, "{kind}");
            let last = Checkpointer::new()
                .get(exec, &t, "", None)
                .unwrap()
                .unwrap();
            assert_eq!(
                values(&last),
                expect(&[("a", &format!("{n}-9")), ("n", &t)])
            );
            assert_eq!(
                pw(&last.pending_writes),
                pw_expect(&[("k", "a", &format!("{n}-9"))])
            );
        }
    });
}

// ---- pending writes ------------------------------------------------------------------------

#[test]
fn pending_writes_keep_regular_ones_once_replace_special_ones_and_sort_by_path_task_index() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        saver
            .put(
                exec,
                ckpt("t", "", "c1", None, &[("a", 1)], &[("a", 1, Some("a1"))]),
            )
            .unwrap();
        saver
            .put_writes(
                exec,
                writes("t", "", "c1", "tb", "~1", &[(0, "x", "b0"), (1, "y", "b1")]),
            )
            .unwrap();
        saver
            .put_writes(exec, writes("t", "", "c1", "ta", "~1", &[(0, "x", "a0")]))
            .unwrap();
        // A regular write stored again is kept as first stored; a special one is replaced.
        saver
            .put_writes(
                exec,
                writes(
                    "t",
                    "",
                    "c1",
                    "tb",
                    "~1",
                    &[(0, "x", "b0-again"), (-1, "__error__", "e1")],
                ),
            )
            .unwrap();
        saver
            .put_writes(
                exec,
                writes(
                    "t",
                    "",
                    "c1",
                    "tb",
                    "~1",
                    &[(-1, "__error__", "e2"), (2, "z", "b2")],
                ),
            )
            .unwrap();
        saver
            .put_writes(exec, writes("t", "", "c1", "tz", "~0", &[(0, "x", "z0")]))
            .unwrap();
        // Another checkpoint's writes are not these.
        saver
            .put_writes(
                exec,
                writes("t", "", "c2", "ta", "~1", &[(0, "x", "other")]),
            )
            .unwrap();
        let want = pw_expect(&[
            ("tz", "x", "z0"),
            ("ta", "x", "a0"),
            ("tb", "__error__", "e2"),
            ("tb", "x", "b0"),
            ("tb", "y", "b1"),
            ("tb", "z", "b2"),
        ]);
        assert_eq!(
            pw(&saver.pending_writes(exec, "t", "", "c1").unwrap()),
            want,
            "{kind}"
        );
        assert_eq!(
            pw(&saver
                .get(exec, "t", "", None)
                .unwrap()
                .unwrap()
                .pending_writes),
            want
        );
        assert_eq!(
            pw(&Checkpointer::new()
                .pending_writes(exec, "t", "", "c1")
                .unwrap()),
            want
        );
        assert!(
            saver
                .pending_writes(exec, "t", "", "nope")
                .unwrap()
                .is_empty()
        );
        assert!(
            saver
                .pending_writes(exec, "t", "sub", "c1")
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn a_put_without_an_id_is_refused_and_stores_nothing() {
    each(|_, exec| {
        let saver = Checkpointer::new();
        let e = saver
            .put(exec, ckpt("t", "", "", None, &[], &[]))
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        let e = saver
            .put_writes(exec, writes("t", "", "", "task", "", &[(0, "x", "v")]))
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert_eq!(stored(exec), 0);
    });
}

// ---- rollbacks -----------------------------------------------------------------------------

#[test]
fn a_rollback_makes_later_checkpoints_history_and_undoes_their_writes() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        saver
            .put(
                exec,
                ckpt("t", "", "c1", None, &[("a", 1)], &[("a", 1, Some("a1"))]),
            )
            .unwrap();
        saver
            .put_writes(exec, writes("t", "", "c1", "k1", "", &[(0, "a", "w1")]))
            .unwrap();
        saver
            .put(
                exec,
                ckpt(
                    "t",
                    "",
                    "c2",
                    Some("c1"),
                    &[("a", 2)],
                    &[("a", 2, Some("a2"))],
                ),
            )
            .unwrap();
        saver
            .put_writes(exec, writes("t", "", "c2", "k2", "", &[(0, "a", "w2")]))
            .unwrap();
        saver
            .put(
                exec,
                ckpt(
                    "t",
                    "",
                    "c3",
                    Some("c2"),
                    &[("a", 3)],
                    &[("a", 3, Some("a3"))],
                ),
            )
            .unwrap();
        saver
            .put_writes(exec, writes("t", "", "c3", "k3", "", &[(0, "a", "w3")]))
            .unwrap();
        assert_eq!(
            saver
                .get(exec, "t", "", None)
                .unwrap()
                .unwrap()
                .checkpoint_id,
            "c3"
        );

        let state = exec
            .rollback_to_checkpoint_any(&checkpoint_name("t", "", "c2"))
            .unwrap();
        let Record::Checkpoint(back) = Record::decode(state.clone()).unwrap() else {
            panic!("{kind}: not a checkpoint")
        };
        assert_eq!(back.checkpoint_id, "c2");

        let latest = saver.get(exec, "t", "", None).unwrap().unwrap();
        assert_eq!(latest.checkpoint_id, "c2", "{kind}");
        assert_eq!(values(&latest), expect(&[("a", "a2")]));
        // c2's writes were stored after it, so the rollback undid them; c1's stay.
        assert!(
            latest.pending_writes.is_empty(),
            "{kind}: {:?}",
            latest.pending_writes
        );
        assert_eq!(
            pw(&saver.pending_writes(exec, "t", "", "c1").unwrap()),
            pw_expect(&[("k1", "a", "w1")])
        );
        assert_eq!(ids(&saver.list(exec, &thread("t")).unwrap()), ["c2", "c1"]);
        // c3 is history: still fetched by id, with all its writes.
        let c3 = saver.get(exec, "t", "", Some("c3")).unwrap().unwrap();
        assert_eq!(values(&c3), expect(&[("a", "a3")]));
        assert_eq!(pw(&c3.pending_writes), pw_expect(&[("k3", "a", "w3")]));
        // A new fork from c2 is live and lists; new writes to c2 are pending.
        saver
            .put_writes(exec, writes("t", "", "c2", "k2", "", &[(0, "a", "w2-new")]))
            .unwrap();
        assert_eq!(
            pw(&saver.pending_writes(exec, "t", "", "c2").unwrap()),
            pw_expect(&[("k2", "a", "w2-new")])
        );
        saver
            .put(
                exec,
                ckpt(
                    "t",
                    "",
                    "c3b",
                    Some("c2"),
                    &[("a", 2), ("b", 1)],
                    &[("b", 1, Some("b1"))],
                ),
            )
            .unwrap();
        assert_eq!(
            ids(&saver.list(exec, &thread("t")).unwrap()),
            ["c3b", "c2", "c1"]
        );
        assert_eq!(
            values(&saver.get(exec, "t", "", None).unwrap().unwrap()),
            expect(&[("a", "a2"), ("b", "b1")])
        );
        // A fresh saver sees the same.
        assert_eq!(
            ids(&Checkpointer::new().list(exec, &thread("t")).unwrap()),
            ["c3b", "c2", "c1"]
        );
    });
}

#[test]
fn a_rollback_to_a_checkpoint_undoes_its_writes_stored_before_it() {
    // LangGraph saves a checkpoint in the background while its tasks already write.
    each(|kind, exec| {
        let saver = Checkpointer::new();
        saver
            .put(
                exec,
                ckpt("t", "", "c1", None, &[("a", 1)], &[("a", 1, Some("a1"))]),
            )
            .unwrap();
        saver
            .put_writes(exec, writes("t", "", "c2", "early", "", &[(0, "a", "e")]))
            .unwrap();
        saver
            .put(
                exec,
                ckpt(
                    "t",
                    "",
                    "c2",
                    Some("c1"),
                    &[("a", 2)],
                    &[("a", 2, Some("a2"))],
                ),
            )
            .unwrap();
        saver
            .put_writes(exec, writes("t", "", "c2", "late", "", &[(0, "a", "l")]))
            .unwrap();
        assert_eq!(
            pw(&saver.pending_writes(exec, "t", "", "c2").unwrap()),
            pw_expect(&[("early", "a", "e"), ("late", "a", "l")])
        );
        exec.rollback_to_checkpoint_any(&checkpoint_name("t", "", "c2"))
            .unwrap();
        assert!(
            saver
                .pending_writes(exec, "t", "", "c2")
                .unwrap()
                .is_empty(),
            "{kind}"
        );
        assert_eq!(
            saver
                .get(exec, "t", "", None)
                .unwrap()
                .unwrap()
                .checkpoint_id,
            "c2"
        );
    });
}

#[test]
fn a_rollback_past_a_thread_hides_what_it_stored_after() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        saver
            .put(
                exec,
                ckpt("t", "", "c1", None, &[("a", 1)], &[("a", 1, Some("a1"))]),
            )
            .unwrap();
        saver
            .put(
                exec,
                ckpt("u", "", "x1", None, &[("a", 1)], &[("a", 1, Some("x"))]),
            )
            .unwrap();
        exec.rollback_to_checkpoint_any(&checkpoint_name("t", "", "c1"))
            .unwrap();
        assert_eq!(saver.get(exec, "u", "", None).unwrap(), None, "{kind}");
        assert!(
            saver.get(exec, "u", "", Some("x1")).unwrap().is_some(),
            "history"
        );
        assert_eq!(
            ids(&saver.list(exec, &ListFilter::default()).unwrap()),
            ["c1"]
        );
    });
}

// ---- deleting ------------------------------------------------------------------------------

#[test]
fn delete_thread_hides_everything_it_stored_and_writes_nothing_when_nothing_is_visible() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        chain(&saver, exec, "t", "");
        saver
            .put(
                exec,
                ckpt("t", "sub", "s1", None, &[("a", 1)], &[("a", 1, Some("s"))]),
            )
            .unwrap();
        saver
            .put_writes(exec, writes("t", "", "c3", "k", "", &[(0, "a", "w")]))
            .unwrap();
        chain(&saver, exec, "other", "");
        let before = stored(exec);
        saver.delete_thread(exec, "t").unwrap();
        assert_eq!(stored(exec), before + 1, "{kind}: one tombstone");
        assert_eq!(saver.get(exec, "t", "", None).unwrap(), None);
        assert_eq!(
            saver.get(exec, "t", "", Some("c2")).unwrap(),
            None,
            "deleted is not history"
        );
        assert_eq!(saver.get(exec, "t", "sub", None).unwrap(), None);
        assert!(
            saver
                .pending_writes(exec, "t", "", "c3")
                .unwrap()
                .is_empty()
        );
        assert!(saver.list(exec, &thread("t")).unwrap().is_empty());
        assert_eq!(
            ids(&saver.list(exec, &ListFilter::default()).unwrap()),
            ["c3", "c2", "c1"],
            "the other thread stays"
        );
        assert_eq!(
            values(&saver.get(exec, "other", "", None).unwrap().unwrap()),
            expect(&[("a", "a2"), ("c", "c1")])
        );
        // Nothing visible: nothing written.
        saver.delete_thread(exec, "t").unwrap();
        saver.delete_thread(exec, "never").unwrap();
        assert_eq!(stored(exec), before + 1);
        assert!(
            Checkpointer::new()
                .list(exec, &thread("t"))
                .unwrap()
                .is_empty()
        );
        // The thread starts again; what it stores now does not draw on the deleted values.
        saver
            .put(
                exec,
                ckpt(
                    "t",
                    "",
                    "c4",
                    Some("c3"),
                    &[("a", 2), ("d", 1)],
                    &[("d", 1, Some("d1"))],
                ),
            )
            .unwrap();
        assert_eq!(
            values(&saver.get(exec, "t", "", None).unwrap().unwrap()),
            expect(&[("d", "d1")]),
            "{kind}"
        );
        assert_eq!(ids(&saver.list(exec, &thread("t")).unwrap()), ["c4"]);
        // A rollback to a checkpoint stored before the delete does not bring it back.
        exec.rollback_to_checkpoint_any(&checkpoint_name("t", "", "c2"))
            .unwrap();
        assert_eq!(saver.get(exec, "t", "", None).unwrap(), None, "{kind}");
        assert_eq!(
            Checkpointer::new().get(exec, "t", "", Some("c2")).unwrap(),
            None
        );
    });
}

#[test]
fn delete_checkpoints_hides_those_listed_and_their_writes_only() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        chain(&saver, exec, "t", "");
        chain(&saver, exec, "t", "sub");
        saver
            .put_writes(exec, writes("t", "", "c2", "k", "", &[(0, "a", "w")]))
            .unwrap();
        let before = stored(exec);
        saver.delete_checkpoints(exec, "t", vec![]).unwrap();
        assert_eq!(stored(exec), before, "nothing to delete: nothing written");
        saver
            .delete_checkpoints(
                exec,
                "t",
                vec![("".into(), "c2".into()), ("sub".into(), "c1".into())],
            )
            .unwrap();
        assert_eq!(
            ids(&saver
                .list(
                    exec,
                    &ListFilter {
                        ns: Some("".into()),
                        ..thread("t")
                    }
                )
                .unwrap()),
            ["c3", "c1"],
            "{kind}"
        );
        assert_eq!(
            ids(&saver
                .list(
                    exec,
                    &ListFilter {
                        ns: Some("sub".into()),
                        ..thread("t")
                    }
                )
                .unwrap()),
            ["c3", "c2"]
        );
        assert_eq!(saver.get(exec, "t", "", Some("c2")).unwrap(), None);
        assert!(
            saver
                .pending_writes(exec, "t", "", "c2")
                .unwrap()
                .is_empty()
        );
        // c3 still draws a from the deleted c2: deleting one checkpoint leaves its children whole.
        assert_eq!(
            values(&saver.get(exec, "t", "", Some("c3")).unwrap().unwrap()),
            expect(&[("a", "a2"), ("c", "c1")]),
            "{kind}"
        );
        assert_eq!(
            values(
                &Checkpointer::new()
                    .get(exec, "t", "sub", Some("c2"))
                    .unwrap()
                    .unwrap()
            ),
            expect(&[("a", "a2"), ("b", "b1")])
        );
        // Stored again after the delete, it is back.
        saver
            .put(
                exec,
                ckpt(
                    "t",
                    "",
                    "c2",
                    Some("c1"),
                    &[("a", 2), ("b", 1)],
                    &[("a", 2, Some("a2"))],
                ),
            )
            .unwrap();
        assert!(saver.get(exec, "t", "", Some("c2")).unwrap().is_some());
    });
}

// ---- copy and prune ------------------------------------------------------------------------

#[test]
fn copy_thread_copies_live_checkpoints_and_writes_a_snapshot_where_the_parent_is_not_copied() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        chain(&saver, exec, "src", "");
        saver
            .put(
                exec,
                ckpt(
                    "src",
                    "sub",
                    "s1",
                    None,
                    &[("a", 1)],
                    &[("a", 1, Some("s"))],
                ),
            )
            .unwrap();
        saver
            .put_writes(
                exec,
                writes(
                    "src",
                    "",
                    "c2",
                    "k",
                    "~0",
                    &[(0, "a", "w"), (-1, "__error__", "e")],
                ),
            )
            .unwrap();
        // c1 is deleted: the copy of c2 must hold all its values (b comes from c1).
        saver
            .delete_checkpoints(exec, "src", vec![("".into(), "c1".into())])
            .unwrap();
        let want: Vec<Tuple> = ["c3", "c2"]
            .iter()
            .map(|id| saver.get(exec, "src", "", Some(id)).unwrap().unwrap())
            .collect();

        saver.copy_thread(exec, "src", "dst").unwrap();
        assert_eq!(
            ids(&saver.list(exec, &thread("dst")).unwrap()),
            ["s1", "c3", "c2"],
            "{kind}"
        );
        // Once the source is gone the copies stand alone.
        saver.delete_thread(exec, "src").unwrap();
        for (reader, name) in [
            (&saver, "same saver"),
            (&Checkpointer::new(), "fresh saver"),
        ] {
            for w in &want {
                let got = reader
                    .get(exec, "dst", "", Some(&w.checkpoint_id))
                    .unwrap()
                    .unwrap();
                assert_eq!(values(&got), values(w), "{kind} {name} {}", w.checkpoint_id);
                assert_eq!(got.pending_writes, w.pending_writes);
                assert_eq!(
                    (got.parent.as_ref(), &got.metadata, &got.checkpoint),
                    (w.parent.as_ref(), &w.metadata, &w.checkpoint)
                );
                assert_eq!(got.thread, "dst");
            }
        }
        assert_eq!(
            pw(&want[1].pending_writes),
            pw_expect(&[("k", "__error__", "e"), ("k", "a", "w")])
        );
        assert_eq!(
            values(&saver.get(exec, "dst", "sub", None).unwrap().unwrap()),
            expect(&[("a", "s")])
        );
        // The copy of c2 stores every channel; the copy of c3 (its parent copied) its delta.
        let infos = exec.checkpoints().unwrap();
        let record = |name: &str| {
            let info = infos.iter().rev().find(|i| i.name == name).unwrap();
            match Record::decode(exec.checkpoint_state_any(info.id).unwrap()).unwrap() {
                Record::Checkpoint(c) => c,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            record(&checkpoint_name("dst", "", "c2")).channels.len(),
            2,
            "{kind}"
        );
        assert_eq!(record(&checkpoint_name("dst", "", "c3")).channels.len(), 2);
        assert_eq!(
            record(&checkpoint_name("dst", "", "c3")).channels,
            record(&checkpoint_name("src", "", "c3")).channels
        );
    });
}

#[test]
fn copy_thread_skips_history() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        chain(&saver, exec, "src", "");
        exec.rollback_to_checkpoint_any(&checkpoint_name("src", "", "c2"))
            .unwrap();
        saver.copy_thread(exec, "src", "dst").unwrap();
        assert_eq!(
            ids(&saver.list(exec, &thread("dst")).unwrap()),
            ["c2", "c1"],
            "{kind}"
        );
        assert_eq!(saver.get(exec, "dst", "", Some("c3")).unwrap(), None);
        assert_eq!(
            values(&saver.get(exec, "dst", "", None).unwrap().unwrap()),
            expect(&[("a", "a2"), ("b", "b1")])
        );
    });
}

#[test]
fn prune_keeps_each_namespaces_latest_stored_whole_and_hides_the_rest() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        chain(&saver, exec, "t", "");
        chain(&saver, exec, "t", "sub");
        saver
            .put(
                exec,
                ckpt(
                    "one",
                    "",
                    "c1",
                    None,
                    &[("a", 1)],
                    &[("a", 1, Some("only"))],
                ),
            )
            .unwrap();
        saver
            .put_writes(exec, writes("t", "", "c3", "k", "", &[(0, "a", "w")]))
            .unwrap();
        let latest = saver.get(exec, "t", "", None).unwrap().unwrap();
        saver
            .prune_keep_latest(exec, &["t".into(), "one".into(), "none".into()])
            .unwrap();
        assert_eq!(
            ids(&saver.list(exec, &thread("t")).unwrap()),
            ["c3", "c3"],
            "{kind}"
        );
        assert_eq!(saver.get(exec, "t", "", Some("c1")).unwrap(), None);
        assert_eq!(saver.get(exec, "t", "sub", Some("c2")).unwrap(), None);
        let after = saver.get(exec, "t", "", None).unwrap().unwrap();
        assert_eq!(values(&after), values(&latest));
        assert_eq!(
            pw(&after.pending_writes),
            pw_expect(&[("k", "a", "w")]),
            "{kind}: the writes stay"
        );
        assert_eq!(after.parent, latest.parent);
        // Stored again with every channel (the emptied b without a value).
        let info = exec
            .checkpoints()
            .unwrap()
            .into_iter()
            .rev()
            .find(|i| i.name == checkpoint_name("t", "", "c3"))
            .unwrap();
        let Record::Checkpoint(c) =
            Record::decode(exec.checkpoint_state_any(info.id).unwrap()).unwrap()
        else {
            panic!()
        };
        let mut chans: Vec<(String, Option<Typed>)> = c
            .channels
            .into_iter()
            .map(|ch| (ch.name, ch.value))
            .collect();
        chans.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            chans,
            vec![
                ("a".into(), Some(val("a2"))),
                ("b".into(), None),
                ("c".into(), Some(val("c1")))
            ]
        );
        // A thread with one checkpoint has nothing to prune; pruning again writes nothing.
        assert!(saver.get(exec, "one", "", None).unwrap().is_some());
        let before = stored(exec);
        saver
            .prune_keep_latest(exec, &["t".into(), "one".into()])
            .unwrap();
        assert_eq!(stored(exec), before, "{kind}");
        assert_eq!(
            values(
                &Checkpointer::new()
                    .get(exec, "t", "sub", None)
                    .unwrap()
                    .unwrap()
            ),
            expect(&[("a", "a2"), ("c", "c1")])
        );
    });
}

// ---- two savers ----------------------------------------------------------------------------

/// Two savers on one execution: each sees what the other saved, deleted and rolled back.
fn two_savers(kind: &str, exec_a: &Execution, exec_b: &Execution) {
    let (a, b) = (Checkpointer::new(), Checkpointer::new());
    a.put(
        exec_a,
        ckpt("t", "", "c1", None, &[("a", 1)], &[("a", 1, Some("a1"))]),
    )
    .unwrap();
    assert_eq!(
        b.get(exec_b, "t", "", None).unwrap().unwrap().checkpoint_id,
        "c1",
        "{kind}"
    );
    a.put(
        exec_a,
        ckpt(
            "t",
            "",
            "c2",
            Some("c1"),
            &[("a", 1), ("b", 1)],
            &[("b", 1, Some("b1"))],
        ),
    )
    .unwrap();
    // b's index is brought up to date: the new latest, its values from c1.
    let c2 = b.get(exec_b, "t", "", None).unwrap().unwrap();
    assert_eq!(
        (c2.checkpoint_id.as_str(), values(&c2)),
        ("c2", expect(&[("a", "a1"), ("b", "b1")])),
        "{kind}"
    );
    b.put_writes(exec_b, writes("t", "", "c2", "k", "", &[(0, "a", "w")]))
        .unwrap();
    assert_eq!(
        pw(&a.pending_writes(exec_a, "t", "", "c2").unwrap()),
        pw_expect(&[("k", "a", "w")]),
        "{kind}"
    );
    b.put(
        exec_b,
        ckpt(
            "t",
            "",
            "c3",
            Some("c2"),
            &[("a", 3), ("b", 1)],
            &[("a", 3, Some("a3"))],
        ),
    )
    .unwrap();
    assert_eq!(
        ids(&a.list(exec_a, &thread("t")).unwrap()),
        ["c3", "c2", "c1"]
    );
    // A rollback through a's execution: b reads every record again.
    exec_a
        .rollback_to_checkpoint_any(&checkpoint_name("t", "", "c2"))
        .unwrap();
    assert_eq!(
        b.get(exec_b, "t", "", None).unwrap().unwrap().checkpoint_id,
        "c2",
        "{kind}"
    );
    assert_eq!(ids(&b.list(exec_b, &thread("t")).unwrap()), ["c2", "c1"]);
    assert!(b.pending_writes(exec_b, "t", "", "c2").unwrap().is_empty());
    assert_eq!(
        values(&b.get(exec_b, "t", "", Some("c3")).unwrap().unwrap()),
        expect(&[("a", "a3"), ("b", "b1")])
    );
    // Saves after the rollback, and a delete, are seen incrementally.
    a.put(
        exec_a,
        ckpt(
            "t",
            "",
            "c4",
            Some("c2"),
            &[("a", 4), ("b", 1)],
            &[("a", 4, Some("a4"))],
        ),
    )
    .unwrap();
    assert_eq!(
        ids(&b.list(exec_b, &thread("t")).unwrap()),
        ["c4", "c2", "c1"],
        "{kind}"
    );
    b.delete_thread(exec_b, "t").unwrap();
    assert_eq!(a.get(exec_a, "t", "", None).unwrap(), None, "{kind}");
    a.delete_thread(exec_a, "t").unwrap(); // a knows there is nothing left: no second tombstone
    assert_eq!(
        exec_a
            .checkpoints()
            .unwrap()
            .iter()
            .filter(|i| i.name.starts_with("langgraph-delete/"))
            .count(),
        1
    );
}

#[test]
fn two_savers_on_one_execution_see_each_others_saves_and_rollbacks() {
    each(|kind, exec| two_savers(kind, exec, exec));
}

#[test]
fn two_engines_on_one_sqlite_file_see_each_others_saves_and_rollbacks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wflo.db").to_string_lossy().into_owned();
    let (e1, e2) = (
        Engine::open(Some(&path)).unwrap(),
        Engine::open(Some(&path)).unwrap(),
    );
    let exec1 = start(&e1);
    let exec2 = e2.resume_execution(exec1.id()).unwrap();
    two_savers("two engines", &exec1, &exec2);
}

#[test]
fn a_saver_moved_to_another_execution_reads_only_that_one() {
    for (kind, engine, _dir) in engines() {
        let (x, y) = (start(&engine), start(&engine));
        let saver = Checkpointer::new();
        chain(&saver, &x, "t", "");
        assert!(saver.get(&y, "t", "", None).unwrap().is_none(), "{kind}");
        saver
            .put(
                &y,
                ckpt("t", "", "y1", None, &[("a", 1)], &[("a", 1, Some("y"))]),
            )
            .unwrap();
        assert_eq!(ids(&saver.list(&y, &thread("t")).unwrap()), ["y1"]);
        assert_eq!(
            ids(&saver.list(&x, &thread("t")).unwrap()),
            ["c3", "c2", "c1"],
            "{kind}"
        );
    }
}

#[test]
fn records_survive_closing_and_reopening_the_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wflo.db").to_string_lossy().into_owned();
    let id = {
        let engine = Engine::open(Some(&path)).unwrap();
        let exec = start(&engine);
        let saver = Checkpointer::new();
        chain(&saver, &exec, "t", "");
        saver
            .put_writes(&exec, writes("t", "", "c3", "k", "", &[(0, "a", "w")]))
            .unwrap();
        let id = exec.id().to_owned();
        engine.close().unwrap();
        id
    };
    let engine = Engine::open(Some(&path)).unwrap();
    let exec = engine.resume_execution(&id).unwrap();
    let got = Checkpointer::new()
        .get(&exec, "t", "", None)
        .unwrap()
        .unwrap();
    assert_eq!(values(&got), expect(&[("a", "a2"), ("c", "c1")]));
    assert_eq!(pw(&got.pending_writes), pw_expect(&[("k", "a", "w")]));
}

// ---- earlier layouts -----------------------------------------------------------------------

fn b64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn records_saved_as_json_states_still_load() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        let cp = br#"{"v":1,"id":"c1","channel_versions":{"a":"1.x","b":"1.y"}}"#;
        let old = json!({"langgraph": "checkpoint", "thread_id": "t/1", "checkpoint_ns": "", "checkpoint_id": "c1",
            "parent_checkpoint_id": null,
            "checkpoint": {"type": "json", "base64": b64(cp)},
            "metadata": {"json": {"source": "input"}},
            "channels": [["a", "1.x", {"type": "json", "base64": b64(br#""old-a""#)}], ["b", "1.y", {"json": "old-b"}]]});
        exec.checkpoint(&checkpoint_name("t/1", "", "c1"), &old.to_string())
            .unwrap();
        let writes_json = json!({"langgraph": "writes", "thread_id": "t/1", "checkpoint_ns": "", "checkpoint_id": "c1",
            "task_id": "k", "task_path": "", "writes": [[0, "a", {"json": "w"}]]});
        exec.checkpoint("langgraph-writes/t%2F1//c1", &writes_json.to_string())
            .unwrap();
        let got = saver.get(exec, "t/1", "", None).unwrap().unwrap();
        assert_eq!(
            values(&got),
            expect(&[("a", "old-a"), ("b", "old-b")]),
            "{kind}"
        );
        assert_eq!(got.metadata, json_value(json!({"source": "input"})));
        assert_eq!(got.checkpoint.data, cp.to_vec());
        assert_eq!(pw(&got.pending_writes), pw_expect(&[("k", "a", "w")]));
        // A checkpoint of this layout continues from it: b still comes from the JSON record.
        let mut c2 = ckpt("t/1", "", "c2", Some("c1"), &[], &[("a", 2, Some("new-a"))]);
        c2.versions = Some(vec![("a".into(), json!(2)), ("b".into(), json!("1.y"))]);
        saver.put(exec, c2).unwrap();
        assert_eq!(
            values(&saver.get(exec, "t/1", "", None).unwrap().unwrap()),
            expect(&[("a", "new-a"), ("b", "old-b")])
        );
    });
}

/// A msgpack value, written as ormsgpack would.
enum Mp {
    Nil,
    Int(i64),
    Str(&'static str),
    S(String),
    Bin(Vec<u8>),
    List(Vec<Mp>),
    Map(Vec<(&'static str, Mp)>),
}

fn pack(m: &Mp, out: &mut Vec<u8>) {
    let str_ = |s: &str, out: &mut Vec<u8>| {
        assert!(s.len() < 32);
        out.push(0xa0 | s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    };
    match m {
        Mp::Nil => out.push(0xc0),
        Mp::Int(i) => {
            assert!((0..128).contains(i));
            out.push(*i as u8)
        }
        Mp::Str(s) => str_(s, out),
        Mp::S(s) => str_(s, out),
        Mp::Bin(b) => {
            out.extend_from_slice(&[0xc4, b.len() as u8]);
            out.extend_from_slice(b);
        }
        Mp::List(items) => {
            out.push(0x90 | items.len() as u8);
            items.iter().for_each(|i| pack(i, out));
        }
        Mp::Map(pairs) => {
            out.push(0x80 | pairs.len() as u8);
            for (k, v) in pairs {
                str_(k, out);
                pack(v, out);
            }
        }
    }
}

fn packed(m: Mp) -> Vec<u8> {
    let mut out = Vec::new();
    pack(&m, &mut out);
    out
}

fn typed_mp(kind: &'static str, data: Vec<u8>) -> Mp {
    Mp::List(vec![Mp::Str(kind), Mp::Bin(data)])
}

#[test]
fn records_python_saved_as_msgpack_still_load() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        // LangGraph's checkpoint, serialised by its msgpack serializer: versions are read from it.
        let checkpoint = packed(Mp::Map(vec![
            ("v", Mp::Int(1)),
            (
                "channel_versions",
                Mp::Map(vec![("a", Mp::Str("1.5")), ("e", Mp::Str("1.1"))]),
            ),
        ]));
        let record = Mp::Map(vec![
            ("langgraph", Mp::Str("checkpoint")),
            ("thread_id", Mp::Str("t")),
            ("checkpoint_ns", Mp::Str("")),
            ("checkpoint_id", Mp::Str("c1")),
            ("parent_checkpoint_id", Mp::Nil),
            ("checkpoint", typed_mp("msgpack", checkpoint.clone())),
            (
                "metadata",
                typed_mp("msgpack", packed(Mp::Map(vec![("step", Mp::Int(0))]))),
            ),
            (
                "channels",
                Mp::List(vec![
                    Mp::List(vec![
                        Mp::Str("a"),
                        Mp::Str("1.5"),
                        typed_mp("json", br#""py-a""#.to_vec()),
                    ]),
                    Mp::List(vec![Mp::Str("e"), Mp::Str("1.1"), Mp::Nil]),
                ]),
            ),
        ]);
        exec.checkpoint_binary(
            &checkpoint_name("t", "", "c1"),
            Some(PYTHON_MSGPACK_CONTENT_TYPE),
            &packed(record),
        )
        .unwrap();
        let w = Mp::Map(vec![
            ("langgraph", Mp::Str("writes")),
            ("thread_id", Mp::Str("t")),
            ("checkpoint_ns", Mp::Str("")),
            ("checkpoint_id", Mp::Str("c1")),
            ("task_id", Mp::Str("k")),
            ("task_path", Mp::Str("~0")),
            (
                "writes",
                Mp::List(vec![Mp::List(vec![
                    Mp::Int(0),
                    Mp::Str("a"),
                    typed_mp("json", br#""pw""#.to_vec()),
                ])]),
            ),
        ]);
        exec.checkpoint_binary(
            "langgraph-writes/t//c1",
            Some(PYTHON_MSGPACK_CONTENT_TYPE),
            &packed(w),
        )
        .unwrap();
        let got = saver.get(exec, "t", "", None).unwrap().unwrap();
        assert_eq!(values(&got), expect(&[("a", "py-a")]), "{kind}");
        assert_eq!(
            got.checkpoint,
            Typed {
                kind: "msgpack".into(),
                data: checkpoint.into()
            }
        );
        assert_eq!(pw(&got.pending_writes), pw_expect(&[("k", "a", "pw")]));
        // A Python tombstone (checkpoints: nil = the whole thread) deletes it.
        let tomb = Mp::Map(vec![
            ("langgraph", Mp::Str("delete")),
            ("thread_id", Mp::S("t".into())),
            ("checkpoints", Mp::Nil),
        ]);
        exec.checkpoint_binary(
            "langgraph-delete/t",
            Some(PYTHON_MSGPACK_CONTENT_TYPE),
            &packed(tomb),
        )
        .unwrap();
        assert_eq!(saver.get(exec, "t", "", None).unwrap(), None, "{kind}");
    });
}

#[test]
fn a_checkpoint_without_versions_reads_them_from_its_json_checkpoint() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        let mut c1 = ckpt(
            "t",
            "",
            "c1",
            None,
            &[("a", 1), ("b", 1)],
            &[("a", 1, Some("a1")), ("b", 1, Some("b1"))],
        );
        c1.versions = None;
        let mut c2 = ckpt(
            "t",
            "",
            "c2",
            Some("c1"),
            &[("a", 2), ("b", 1)],
            &[("a", 2, Some("a2"))],
        );
        c2.versions = None; // as the JS saver stored it: versions only in the checkpoint
        saver.put(exec, c1).unwrap();
        saver.put(exec, c2).unwrap();
        assert_eq!(
            values(&saver.get(exec, "t", "", None).unwrap().unwrap()),
            expect(&[("a", "a2"), ("b", "b1")]),
            "{kind}"
        );
        // Another serializer's bytes: the versions cannot be read, said so, and nothing panics.
        let mut c3 = ckpt("t", "", "c3", Some("c2"), &[], &[]);
        c3.versions = None;
        c3.checkpoint = Typed {
            kind: "pickle".into(),
            data: b"\x80\x04".to_vec().into(),
        };
        saver.put(exec, c3).unwrap();
        let e = saver.get(exec, "t", "", None).unwrap_err();
        assert!(e.to_string().contains("c3"), "{e}");
        assert!(saver.get(exec, "t", "", Some("c2")).unwrap().is_some());
    });
}

// ---- damaged records -----------------------------------------------------------------------

#[test]
fn a_damaged_checkpoint_is_a_storage_error_and_loses_nothing() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        chain(&saver, exec, "t", "");
        // A record of the name but not of the layout, newer than c2.
        exec.checkpoint_binary(
            &checkpoint_name("t", "", "c2"),
            Some(RECORD_CONTENT_TYPE),
            b"\x00\x00\x00\x09{",
        )
        .unwrap();
        let e = saver.get(exec, "t", "", Some("c2")).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Storage, "{kind}: {e}");
        // c3 needs a from c2: its load fails the same way, and does not come back wrong.
        assert_eq!(
            saver.get(exec, "t", "", None).unwrap_err().code(),
            ErrorCode::Storage
        );
        assert_eq!(
            Checkpointer::new()
                .get(exec, "t", "", None)
                .unwrap_err()
                .code(),
            ErrorCode::Storage
        );
        // What does not need it still loads; the list is names only.
        assert_eq!(
            values(&saver.get(exec, "t", "", Some("c1")).unwrap().unwrap()),
            expect(&[("a", "a1"), ("b", "b1")])
        );
        assert_eq!(
            ids(&saver.list(exec, &thread("t")).unwrap()),
            ["c3", "c2", "c1"]
        );
        assert_eq!(
            saver.get(exec, "t", "", Some("c2")).unwrap_err().code(),
            ErrorCode::Storage,
            "still"
        );
        // Stored again properly (by this saver or another), it wins and everything loads, though
        // each saver's kept index still picked the damaged record.
        let other = Checkpointer::new();
        assert_eq!(
            other.get(exec, "t", "", Some("c2")).unwrap_err().code(),
            ErrorCode::Storage
        );
        saver
            .put(
                exec,
                ckpt(
                    "t",
                    "",
                    "c2",
                    Some("c1"),
                    &[("a", 2), ("b", 1)],
                    &[("a", 2, Some("a2"))],
                ),
            )
            .unwrap();
        assert_eq!(
            values(&saver.get(exec, "t", "", Some("c2")).unwrap().unwrap()),
            expect(&[("a", "a2"), ("b", "b1")]),
            "{kind}"
        );
        assert_eq!(
            values(&other.get(exec, "t", "", Some("c2")).unwrap().unwrap()),
            expect(&[("a", "a2"), ("b", "b1")]),
            "{kind}"
        );
        assert_eq!(
            values(&saver.get(exec, "t", "", None).unwrap().unwrap()),
            expect(&[("a", "a2"), ("c", "c1")]),
            "{kind}"
        );
        // A record of another content type under a LangGraph name is damaged too.
        exec.checkpoint_binary(
            &checkpoint_name("t", "", "c4"),
            Some("application/octet-stream"),
            b"x",
        )
        .unwrap();
        assert_eq!(
            saver.get(exec, "t", "", Some("c4")).unwrap_err().code(),
            ErrorCode::Storage
        );
        exec.checkpoint(
            &checkpoint_name("t", "", "c5"),
            r#"{"langgraph":"checkpoint"}"#,
        )
        .unwrap();
        assert_eq!(
            saver.get(exec, "t", "", Some("c5")).unwrap_err().code(),
            ErrorCode::Storage
        );
    });
}

#[test]
fn a_damaged_tombstone_stays_an_error_instead_of_being_skipped() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        chain(&saver, exec, "t", "");
        assert!(saver.get(exec, "t", "", None).unwrap().is_some()); // the index is kept
        exec.checkpoint_binary("langgraph-delete/t", Some(RECORD_CONTENT_TYPE), b"junk")
            .unwrap();
        // Whether the thread is deleted cannot be known: every read says so, every time.
        for attempt in 0..3 {
            let e = saver.get(exec, "t", "", None).unwrap_err();
            assert_eq!(
                e.code(),
                ErrorCode::Storage,
                "{kind} attempt {attempt}: {e}"
            );
            assert_eq!(
                saver.list(exec, &thread("t")).unwrap_err().code(),
                ErrorCode::Storage,
                "{kind} attempt {attempt}"
            );
        }
        assert_eq!(
            Checkpointer::new()
                .get(exec, "t", "", None)
                .unwrap_err()
                .code(),
            ErrorCode::Storage
        );
        // Nothing recorded is lost: every record is still in the store and reads back.
        let infos = exec.checkpoints().unwrap();
        assert_eq!(infos.len(), 4);
        for info in &infos[..3] {
            Record::decode(exec.checkpoint_state_any(info.id).unwrap()).unwrap();
        }
    });
}

/// A saver reads the records of the thread it is asked about, not the execution's: another
/// thread's damaged tombstone fails that thread's reads and a listing of every thread, never
/// this one's (nor that of a thread whose id is percent-encoded).
#[test]
fn a_thread_is_read_without_the_other_threads_records() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        chain(&saver, exec, "a", "");
        chain(&saver, exec, "b/1", "");
        exec.checkpoint_binary("langgraph-delete/b", Some(RECORD_CONTENT_TYPE), b"junk")
            .unwrap();
        for reader in [&saver, &Checkpointer::new()] {
            let latest = reader.get(exec, "a", "", None).unwrap().unwrap();
            assert_eq!(latest.checkpoint_id, "c3", "{kind}");
            assert_eq!(
                ids(&reader.list(exec, &thread("a")).unwrap()),
                ["c3", "c2", "c1"]
            );
            assert_eq!(
                reader.get(exec, "b", "", None).unwrap_err().code(),
                ErrorCode::Storage,
                "{kind}"
            );
            // Every thread: the whole execution.
            assert_eq!(
                reader
                    .list(exec, &ListFilter::default())
                    .unwrap_err()
                    .code(),
                ErrorCode::Storage,
                "{kind}"
            );
            let other = reader.get(exec, "b/1", "", None).unwrap().unwrap();
            assert_eq!(other.checkpoint_id, "c3", "{kind}");
            // And back to the one thread: still read, and brought up to date.
            assert!(reader.get(exec, "a", "", Some("c2")).unwrap().is_some());
        }
        saver
            .put(
                exec,
                ckpt(
                    "a",
                    "",
                    "c4",
                    Some("c3"),
                    &[("a", 4), ("b", 2), ("c", 1)],
                    &[("a", 4, Some("a4"))],
                ),
            )
            .unwrap();
        let fresh = Checkpointer::new();
        assert_eq!(
            fresh
                .get(exec, "a", "", None)
                .unwrap()
                .unwrap()
                .checkpoint_id,
            "c4",
            "{kind}"
        );
        // Saved by another saver after this one read the thread: seen.
        saver
            .put(
                exec,
                ckpt(
                    "a",
                    "",
                    "c5",
                    Some("c4"),
                    &[("a", 5), ("b", 2), ("c", 1)],
                    &[("a", 5, Some("a5"))],
                ),
            )
            .unwrap();
        let latest = fresh.get(exec, "a", "", None).unwrap().unwrap();
        assert_eq!(latest.checkpoint_id, "c5", "{kind}");
        assert_eq!(
            values(&latest),
            expect(&[("a", "a5"), ("c", "c1")]),
            "{kind}"
        );
    });
}

/// The latest checkpoint id of a thread as `saver` loads it (`None`: the thread has none).
fn latest_id(saver: &Checkpointer, exec: &Execution, t: &str) -> Option<String> {
    saver
        .get(exec, t, "", None)
        .unwrap()
        .map(|tuple| tuple.checkpoint_id)
}

/// One saver serving several threads keeps each thread's index when it turns to another and
/// brings it up to date when it comes back: what another saver stored, deleted or rolled back
/// meanwhile is seen, in the thread it touched and no other.
#[test]
fn a_saver_switching_threads_sees_what_changed_in_each_meanwhile() {
    each(|kind, exec| {
        let (reader, writer) = (Checkpointer::new(), Checkpointer::new());
        chain(&writer, exec, "a", "");
        chain(&writer, exec, "b", "");
        for t in ["a", "b", "a", "b"] {
            assert_eq!(latest_id(&reader, exec, t).as_deref(), Some("c3"), "{kind}");
        }
        // Saved in a while the reader is on b: a's kept index is brought up to date.
        let c4 = ckpt(
            "a",
            "",
            "c4",
            Some("c3"),
            &[("a", 4), ("b", 2), ("c", 1)],
            &[("a", 4, Some("a4"))],
        );
        writer.put(exec, c4.clone()).unwrap();
        assert_eq!(
            latest_id(&reader, exec, "b").as_deref(),
            Some("c3"),
            "{kind}"
        );
        let a = reader.get(exec, "a", "", None).unwrap().unwrap();
        assert_eq!(
            (a.checkpoint_id.as_str(), values(&a)),
            ("c4", expect(&[("a", "a4"), ("c", "c1")])),
            "{kind}"
        );
        // The same checkpoint stored again: its newest record stands for it.
        let mut again = c4;
        again.channels[0].value = Some(val("a4-again"));
        writer.put(exec, again).unwrap();
        assert_eq!(
            values(&reader.get(exec, "a", "", None).unwrap().unwrap()),
            expect(&[("a", "a4-again"), ("c", "c1")]),
            "{kind}"
        );
        // b's latest deleted while the reader is on a: b's previous one is its latest.
        writer
            .delete_checkpoints(exec, "b", vec![("".into(), "c3".into())])
            .unwrap();
        assert_eq!(
            latest_id(&reader, exec, "a").as_deref(),
            Some("c4"),
            "{kind}"
        );
        assert_eq!(
            latest_id(&reader, exec, "b").as_deref(),
            Some("c2"),
            "{kind}"
        );
        // A rollback to a's c2 while the reader is on b: c3 and c4 are history.
        assert_eq!(
            latest_id(&reader, exec, "b").as_deref(),
            Some("c2"),
            "{kind}"
        );
        exec.rollback_to_checkpoint_any(&checkpoint_name("a", "", "c2"))
            .unwrap();
        assert_eq!(
            latest_id(&reader, exec, "a").as_deref(),
            Some("c2"),
            "{kind}"
        );
        // b's checkpoints were all saved after a's c2: history now.
        assert_eq!(latest_id(&reader, exec, "b"), None, "{kind}");
        // A thread deleted while the reader is on another: gone.
        writer.delete_thread(exec, "a").unwrap();
        assert_eq!(latest_id(&reader, exec, "b"), None, "{kind}");
        assert_eq!(latest_id(&reader, exec, "a"), None, "{kind}");
        // More saved elsewhere than a kept index is brought up to date over (it is read
        // again): the same answers.
        writer
            .put(
                exec,
                ckpt("b", "", "c5", None, &[("a", 5)], &[("a", 5, Some("b5"))]),
            )
            .unwrap();
        for i in 0..300 {
            let id = format!("x{i:04}");
            writer
                .put(
                    exec,
                    ckpt("x", "", &id, None, &[("a", 1)], &[("a", 1, Some("x"))]),
                )
                .unwrap();
        }
        assert_eq!(
            latest_id(&reader, exec, "x").as_deref(),
            Some("x0299"),
            "{kind}"
        );
        let b = reader.get(exec, "b", "", None).unwrap().unwrap();
        assert_eq!(
            (b.checkpoint_id.as_str(), values(&b)),
            ("c5", expect(&[("a", "b5")])),
            "{kind}"
        );
        assert_eq!(ids(&reader.list(exec, &thread("b")).unwrap()), ["c5"]);
    });
}

/// A thread's latest checkpoint as records come: a newer id is the latest, a checkpoint stored
/// later under an older id (a copy) is not, and deleting the latest makes the one before it
/// the latest again — for a saver that keeps the answer between loads.
#[test]
fn the_latest_checkpoint_follows_saves_copies_and_deletes() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        assert_eq!(latest_id(&saver, exec, "t"), None, "{kind}");
        // (checkpoint saved, its parent, the thread's latest after it): c1 comes after c2 but
        // is older, as a copy of an earlier checkpoint is.
        for (id, parent, latest) in [
            ("c2", None, "c2"),
            ("c1", None, "c2"),
            ("c3", Some("c2"), "c3"),
        ] {
            saver
                .put(
                    exec,
                    ckpt("t", "", id, parent, &[("a", 1)], &[("a", 1, Some(id))]),
                )
                .unwrap();
            assert_eq!(
                latest_id(&saver, exec, "t").as_deref(),
                Some(latest),
                "{kind} {id}"
            );
        }
        saver
            .delete_checkpoints(exec, "t", vec![("".into(), "c3".into())])
            .unwrap();
        assert_eq!(
            latest_id(&saver, exec, "t").as_deref(),
            Some("c2"),
            "{kind}"
        );
        saver.copy_thread(exec, "t", "u").unwrap();
        for t in ["u", "t"] {
            assert_eq!(
                latest_id(&saver, exec, t).as_deref(),
                Some("c2"),
                "{kind} {t}"
            );
        }
    });
}

/// Records an earlier JS saver named with `! * ' ( )` as they are (`encodeURIComponent`) are
/// the thread's as much as those named percent-encoded: a new saver reading the thread finds
/// both, and a tombstone of either spelling.
#[test]
fn a_threads_records_in_either_spelling_are_read() {
    each(|kind, exec| {
        let thread = "it's (mine)!";
        let old = Record::Checkpoint(ckpt(
            thread,
            "",
            "c1",
            None,
            &[("a", 1)],
            &[("a", 1, Some("a1"))],
        ));
        let (ct, bytes) = old.to_state();
        exec.checkpoint_binary("langgraph/it's%20(mine)!//c1", Some(&ct), &bytes)
            .unwrap();
        let saver = Checkpointer::new();
        saver
            .put(
                exec,
                ckpt(
                    thread,
                    "",
                    "c2",
                    Some("c1"),
                    &[("a", 2)],
                    &[("a", 2, Some("a2"))],
                ),
            )
            .unwrap();
        let fresh = Checkpointer::new();
        assert_eq!(
            ids(&fresh
                .list(
                    exec,
                    &ListFilter {
                        thread: Some(thread.into()),
                        ..Default::default()
                    }
                )
                .unwrap()),
            ["c2", "c1"],
            "{kind}"
        );
        assert_eq!(
            values(&fresh.get(exec, thread, "", Some("c1")).unwrap().unwrap()),
            expect(&[("a", "a1")]),
            "{kind}"
        );
        let tombstone = Record::Delete(DeleteRecord {
            thread: thread.into(),
            checkpoints: None,
        });
        let (ct, bytes) = tombstone.to_state();
        exec.checkpoint_binary("langgraph-delete/it's%20(mine)!", Some(&ct), &bytes)
            .unwrap();
        assert!(
            Checkpointer::new()
                .get(exec, thread, "", None)
                .unwrap()
                .is_none(),
            "{kind}"
        );
    });
}

#[test]
fn a_tombstone_that_is_not_one_is_a_storage_error() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        let not_a_tombstone = Record::Writes(writes("t", "", "c1", "k", "", &[]));
        let (ct, bytes) = not_a_tombstone.to_state();
        exec.checkpoint_binary("langgraph-delete/t", Some(&ct), &bytes)
            .unwrap();
        assert_eq!(
            saver.list(exec, &ListFilter::default()).unwrap_err().code(),
            ErrorCode::Storage,
            "{kind}"
        );
    });
}

// ---- where unchanged channels are -------------------------------------------------------

/// The stored record of a checkpoint (its newest).
fn stored_record(exec: &Execution, t: &str, id: &str) -> CheckpointRecord {
    let name = checkpoint_name(t, "", id);
    let infos = exec.checkpoints().unwrap();
    let info = infos.iter().rev().find(|i| i.name == name).unwrap();
    match Record::decode(exec.checkpoint_state_any(info.id).unwrap()).unwrap() {
        Record::Checkpoint(c) => c,
        other => panic!("{other:?}"),
    }
}

/// c1 sets `docs` and `msgs`; c2…c5 each change `msgs` only (a long run with a channel set
/// at its first step).
fn run_with_docs_set_once(saver: &Checkpointer, exec: &Execution) {
    saver
        .put(
            exec,
            ckpt(
                "t",
                "",
                "c1",
                None,
                &[("docs", 1), ("msgs", 1)],
                &[("docs", 1, Some("d")), ("msgs", 1, Some("m1"))],
            ),
        )
        .unwrap();
    for step in 2..=5i64 {
        let (id, parent, msgs) = (
            format!("c{step}"),
            format!("c{}", step - 1),
            format!("m{step}"),
        );
        saver
            .put(
                exec,
                ckpt(
                    "t",
                    "",
                    &id,
                    Some(&parent),
                    &[("docs", 1), ("msgs", step)],
                    &[("msgs", step, Some(&msgs))],
                ),
            )
            .unwrap();
    }
}

#[test]
fn a_channel_set_once_is_read_from_the_record_that_stored_it_not_through_every_step() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        run_with_docs_set_once(&saver, exec);
        // Each record names where docs is, as its parent knew it.
        for step in 2..=5 {
            assert_eq!(
                stored_record(exec, "t", &format!("c{step}")).elsewhere,
                [("docs".to_owned(), "c1".to_owned())],
                "{kind}: c{step}"
            );
        }
        // c3 damaged (a newer record of its name, not of the layout): walking back from c5
        // through c4 and c3 to find docs would fail; the load reads c1 directly.
        exec.checkpoint_binary(
            &checkpoint_name("t", "", "c3"),
            Some(RECORD_CONTENT_TYPE),
            b"\x00\x00\x00\x09{",
        )
        .unwrap();
        for reader in [&saver, &Checkpointer::new()] {
            let latest = reader.get(exec, "t", "", None).unwrap().unwrap();
            assert_eq!(latest.checkpoint_id, "c5", "{kind}");
            assert_eq!(
                values(&latest),
                expect(&[("docs", "d"), ("msgs", "m5")]),
                "{kind}"
            );
        }
        // What does need c3 still fails rather than coming back wrong.
        assert_eq!(
            saver.get(exec, "t", "", Some("c3")).unwrap_err().code(),
            ErrorCode::Storage,
            "{kind}"
        );
    });
}

#[test]
fn a_saver_that_loaded_a_checkpoint_lists_where_its_child_finds_unchanged_channels() {
    each(|kind, exec| {
        let writer = Checkpointer::new();
        // Saved by a saver that never lists them (as earlier wflo versions did not).
        writer
            .put(
                exec,
                ckpt(
                    "t",
                    "",
                    "c1",
                    None,
                    &[("docs", 1), ("msgs", 1)],
                    &[("docs", 1, Some("d")), ("msgs", 1, Some("m1"))],
                ),
            )
            .unwrap();
        // A new saver (a new process resuming the thread) loads the latest, then goes on.
        let resumed = Checkpointer::new();
        resumed.get(exec, "t", "", None).unwrap().unwrap();
        for (step, parent) in [(2i64, "c1"), (3, "c2")] {
            resumed
                .put(
                    exec,
                    ckpt(
                        "t",
                        "",
                        &format!("c{step}"),
                        Some(parent),
                        &[("docs", 1), ("msgs", step)],
                        &[("msgs", step, Some(&format!("m{step}")))],
                    ),
                )
                .unwrap();
        }
        assert_eq!(
            stored_record(exec, "t", "c3").elsewhere,
            [("docs".to_owned(), "c1".to_owned())],
            "{kind}"
        );
        // A put whose parent it never saw or loaded lists nothing, and still loads whole.
        let blind = Checkpointer::new();
        blind
            .put(
                exec,
                ckpt(
                    "t",
                    "",
                    "c4",
                    Some("c3"),
                    &[("docs", 1), ("msgs", 4)],
                    &[("msgs", 4, Some("m4"))],
                ),
            )
            .unwrap();
        assert!(
            stored_record(exec, "t", "c4").elsewhere.is_empty(),
            "{kind}"
        );
        assert_eq!(
            values(
                &Checkpointer::new()
                    .get(exec, "t", "", None)
                    .unwrap()
                    .unwrap()
            ),
            expect(&[("docs", "d"), ("msgs", "m4")]),
            "{kind}"
        );
    });
}

#[test]
fn a_wrong_or_stale_location_falls_back_to_the_parents() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        saver
            .put(
                exec,
                ckpt(
                    "t",
                    "",
                    "c1",
                    None,
                    &[("a", 1), ("b", 1)],
                    &[("a", 1, Some("a1")), ("b", 1, Some("b1"))],
                ),
            )
            .unwrap();
        saver
            .put(
                exec,
                ckpt(
                    "t",
                    "",
                    "c2",
                    Some("c1"),
                    &[("a", 2), ("b", 1)],
                    &[("a", 2, Some("a2"))],
                ),
            )
            .unwrap();
        // c3 says b is in a checkpoint that does not exist, and a in c1 (which holds a at 1,
        // not at c3's version 2).
        let mut c3 = ckpt("t", "", "c3", Some("c2"), &[("a", 2), ("b", 1)], &[]);
        c3.elsewhere = vec![("b".into(), "gone".into()), ("a".into(), "c1".into())];
        saver.put(exec, c3).unwrap();
        for reader in [&saver, &Checkpointer::new()] {
            assert_eq!(
                values(&reader.get(exec, "t", "", Some("c3")).unwrap().unwrap()),
                expect(&[("a", "a2"), ("b", "b1")]),
                "{kind}"
            );
        }
    });
}

// ---- names ---------------------------------------------------------------------------------

#[test]
fn ids_with_slashes_percents_and_unicode_stay_apart() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        let (t, ns, id) = ("a/b%2F", "graph:1|sub/é", "ç/€%20 x");
        saver
            .put(
                exec,
                ckpt(t, ns, id, None, &[("a", 1)], &[("a", 1, Some("odd"))]),
            )
            .unwrap();
        saver
            .put_writes(
                exec,
                writes(t, ns, id, "task/é", "~0/1", &[(0, "ch/€", "w")]),
            )
            .unwrap();
        // Names that would collide were "/" or "%" not encoded.
        saver
            .put(
                exec,
                ckpt(
                    "a",
                    "b%2F",
                    id,
                    None,
                    &[("a", 1)],
                    &[("a", 1, Some("plain-a"))],
                ),
            )
            .unwrap();
        saver
            .put(
                exec,
                ckpt(
                    "a/b/",
                    ns,
                    id,
                    None,
                    &[("a", 1)],
                    &[("a", 1, Some("slash"))],
                ),
            )
            .unwrap();
        let got = saver.get(exec, t, ns, None).unwrap().unwrap();
        assert_eq!(
            (
                got.thread.as_str(),
                got.ns.as_str(),
                got.checkpoint_id.as_str()
            ),
            (t, ns, id),
            "{kind}"
        );
        assert_eq!(values(&got), expect(&[("a", "odd")]));
        assert_eq!(
            pw(&got.pending_writes),
            pw_expect(&[("task/é", "ch/€", "w")])
        );
        assert_eq!(
            saver.list(exec, &thread(t)).unwrap(),
            vec![(t.to_owned(), ns.to_owned(), id.to_owned())]
        );
        assert_eq!(
            values(&saver.get(exec, "a", "b%2F", Some(id)).unwrap().unwrap()),
            expect(&[("a", "plain-a")])
        );
        // Rolled back to by its name, deleted by its thread: the others are untouched.
        saver
            .put(
                exec,
                ckpt(
                    t,
                    ns,
                    "z",
                    Some(id),
                    &[("a", 2)],
                    &[("a", 2, Some("later"))],
                ),
            )
            .unwrap();
        exec.rollback_to_checkpoint_any(&checkpoint_name(t, ns, id))
            .unwrap();
        assert_eq!(
            saver.get(exec, t, ns, None).unwrap().unwrap().checkpoint_id,
            id,
            "{kind}"
        );
        saver.delete_thread(exec, t).unwrap();
        assert_eq!(saver.get(exec, t, ns, None).unwrap(), None);
        assert!(
            saver.get(exec, "a", "b%2F", None).unwrap().is_none(),
            "stored after the rollback target: history"
        );
        assert!(saver.get(exec, "a", "b%2F", Some(id)).unwrap().is_some());
        saver.copy_thread(exec, "a", "é/copy").unwrap(); // nothing live to copy
        assert!(saver.list(exec, &thread("é/copy")).unwrap().is_empty());
    });
}

/// A checkpoint of thread "t" whose channel versions are `versions` (strings), storing `changed`.
fn ckpt_versions(
    id: &str,
    parent: Option<&str>,
    versions: &[(&str, &str)],
    changed: &[(&str, &str, &str)],
) -> CheckpointRecord {
    record(
        "t",
        "",
        id,
        parent,
        versions.iter().map(|(n, v)| (*n, json!(v))).collect(),
        changed
            .iter()
            .map(|(n, v, x)| (*n, json!(v), Some(*x)))
            .collect(),
    )
}

#[test]
fn two_branches_never_share_a_channel_version() {
    each(|kind, exec| {
        let saver = Checkpointer::new();
        let v1 = next_version(None).unwrap();
        saver
            .put(
                exec,
                ckpt_versions("c1", None, &[("a", &v1)], &[("a", &v1, "a1")]),
            )
            .unwrap();
        // Two branches forked from c1 each write channel a once: one step after c1, yet each
        // under a version of its own.
        let vx = next_version(Some(&json!(v1))).unwrap();
        let vy = next_version(Some(&json!(v1))).unwrap();
        assert_ne!(vx, vy, "{kind}");
        assert!(vx > v1 && vy > v1, "{kind}");
        saver
            .put(
                exec,
                ckpt_versions("c2x", Some("c1"), &[("a", &vx)], &[("a", &vx, "x")]),
            )
            .unwrap();
        saver
            .put(
                exec,
                ckpt_versions("c2y", Some("c1"), &[("a", &vy)], &[("a", &vy, "y")]),
            )
            .unwrap();
        // A checkpoint of branch y whose parent is not stored finds a's value by its version
        // among the thread's records: branch y's, never branch x's.
        saver
            .put(exec, ckpt_versions("c3y", Some("gone"), &[("a", &vy)], &[]))
            .unwrap();
        let c3y = saver.get(exec, "t", "", Some("c3y")).unwrap().unwrap();
        assert_eq!(values(&c3y), expect(&[("a", "y")]), "{kind}");
    });
}

#[test]
fn the_wire_gives_the_next_channel_version_without_an_execution() {
    let saver = Checkpointer::new();
    let no_exec = || Err(wflo_core::Error::invalid("no execution"));
    let ask = |current: Value| {
        let request = json!({"op": "next_version", "current": current}).to_string();
        wire::run(&saver, no_exec, request.as_bytes(), b"")
    };
    let first = ask(Value::Null).unwrap();
    assert!(first.values.is_empty());
    let first: String = serde_json::from_str(&first.json).unwrap();
    assert_eq!(&first[..33], &format!("{:032}.", 1));
    let second: String = serde_json::from_str(&ask(json!(first)).unwrap().json).unwrap();
    assert_eq!(&second[..33], &format!("{:032}.", 2));
    let from_int: String = serde_json::from_str(&ask(json!(6)).unwrap().json).unwrap();
    assert_eq!(&from_int[..33], &format!("{:032}.", 7));
    let absent = wire::run(&saver, no_exec, br#"{"op": "next_version"}"#, b"").unwrap();
    assert!(absent.json.starts_with(&format!("\"{:032}.", 1)));
    for bad in [json!(-1), json!("x"), json!(2.5), json!({})] {
        let e = ask(bad.clone()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{bad}");
    }
}
